"""One Flower watches the workers of every service: Flower runs against `common.celery_monitor`
(the shared broker, no tasks) and lists a real auth worker and a worker of another service's
app on the same Redis, as `make dev` starts them (Procfile.dev); and it stops cleanly when the
stack stops."""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any

import httpx
import pytest

from common.testing import free_port

from .conftest import DEADLINE, Start, wait_for

FLOWER_AUTH = ("flower", "flower-test-password")


def flower_args(port: int, *options: str) -> list[str]:
    return [
        "-A",
        "common.celery_monitor",
        "flower",
        f"--port={port}",
        "--address=127.0.0.1",
        f"--basic-auth={':'.join(FLOWER_AUTH)}",
        *options,
    ]


def serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def worker_args(app: str, queue: str, hostname: str) -> list[str]:
    return [
        "-A",
        app,
        "worker",
        "-Q",
        queue,
        "-n",
        hostname,
        "--pool",
        "solo",
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "WARNING",
    ]


def test_one_flower_lists_the_workers_of_every_service(start: Start) -> None:
    port = free_port()
    flower = start("flower", *flower_args(port, "--logging=warning"))
    run = uuid.uuid4().hex[:8]
    auth_worker = f"auth-{run}@localhost"
    reports_worker = f"reports-{run}@localhost"
    workers = [
        start("auth-worker", *worker_args("auth_service.tasks", "auth", auth_worker)),
        start("reports-worker", *worker_args("reports_tasks", "reports", reports_worker)),
    ]
    processes = [flower, *workers]

    listed: dict[str, Any] = {}
    alive: dict[str, bool] = {}
    deadline = time.monotonic() + DEADLINE
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=FLOWER_AUTH, timeout=5) as http:
        while time.monotonic() < deadline:
            exited = [p for p in processes if p.popen.poll() is not None]
            assert not exited, [(p.log.name, p.output()) for p in exited]
            try:
                # `refresh` asks the workers over the broker (inspect); `status` is what Flower
                # follows from their events.
                listed = http.get("/api/workers", params={"refresh": 1}).json()
                alive = http.get("/api/workers", params={"status": 1}).json()
            except (httpx.TransportError, ValueError):
                pass  # Flower still starting, or a 503 while a worker joins
            if {auth_worker, reports_worker} <= listed.keys() and all(
                alive.get(name) for name in (auth_worker, reports_worker)
            ):
                break
            time.sleep(0.5)

    assert {auth_worker, reports_worker} <= listed.keys(), (
        sorted(listed),
        [(p.log.name, p.output()) for p in processes],
    )
    assert alive[auth_worker] is True
    assert alive[reports_worker] is True
    assert "auth" in {queue["name"] for queue in listed[auth_worker]["active_queues"]}
    assert "reports" in {queue["name"] for queue in listed[reports_worker]["active_queues"]}


class TestStopping:
    """SIGTERM stops Flower with exit status 0 and no traceback, also when a second one comes
    while it shuts down, as it did under honcho when the Procfile line ran `uv run` (honcho
    signals the process group, uv forwarded its copy)."""

    @pytest.mark.parametrize("signals", [1, 2], ids=["once", "twice"])
    def test_sigterm_stops_flower_without_a_traceback(self, start: Start, signals: int) -> None:
        port = free_port()
        flower = start("flower", *flower_args(port, "--logging=info"))
        wait_for(flower, lambda: serving(port), "Flower serving")

        flower.popen.send_signal(signal.SIGTERM)
        if signals == 2:
            wait_for(flower, lambda: "SIGTERM received" in flower.output(), "the first SIGTERM")
            flower.popen.send_signal(signal.SIGTERM)
        status = flower.popen.wait(timeout=DEADLINE)

        output = flower.output()
        assert "Traceback" not in output, output
        assert "SIGTERM received, stopping" in output
        assert status == 0, output
