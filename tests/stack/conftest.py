"""The development stack's Celery processes (Procfile.dev), started as real processes on the
test's Redis and key prefix: workers, beat, Flower."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

DEADLINE = 60.0  # seconds; it takes a few on an idle machine, more on a loaded CI runner

# A second service with tasks, as release notes or storage will have: its own Celery app and
# queue from the shared factory, nothing in common with auth's but the broker.
OTHER_SERVICE = textwrap.dedent(
    """
    import logging

    from common.celery_app import create_celery_app
    from common.settings import ServiceSettings

    celery_app = create_celery_app("reports", ServiceSettings(service_name="reports"))


    @celery_app.task(name="reports.noop")
    def noop() -> None:
        pass


    @celery_app.task(name="reports.note")
    def note(text: str) -> None:
        logging.getLogger("reports.tasks").info("noted %s", text)
    """
)


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


class Start(Protocol):
    def __call__(
        self, name: str, *args: str, env: dict[str, str] | None = None, module: str = "celery"
    ) -> Process: ...


@pytest.fixture
def start(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[Start]:
    """Start `python -m celery ARGS...` (or another `module`) in `tmp_path` on the test's Redis
    and key prefix, its output in `tmp_path/<name>.log`, with `env` over the test environment;
    stopped at the end."""
    (tmp_path / "reports_tasks.py").write_text(OTHER_SERVICE)
    base = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }
    base.pop("CELERY_BROKER_URL", None)
    started: list[Process] = []

    def _start(
        name: str, *args: str, env: dict[str, str] | None = None, module: str = "celery"
    ) -> Process:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(  # noqa: S603 (our own command lines, no outside input)
                [sys.executable, "-m", module, *args],
                env=base | (env or {}),
                cwd=tmp_path,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        started.append(Process(popen, log))
        return started[-1]

    yield _start
    for process in started:
        process.popen.terminate()
    for process in started:
        try:
            process.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()


def wait_for(process: Process, done: Callable[[], bool], what: str) -> None:
    """Until `done()`, failing with `process`'s output if it exits first or time runs out."""
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert process.popen.poll() is None or done(), (what, process.output())
        assert time.monotonic() < deadline, (what, process.output())
        time.sleep(0.1)
