"""One log file per process: a service's worker, the processes of its pool and its beat each write
and rotate a file of their own beside the service's (`var/log/<service>.log` is its server's),
as `make dev` runs them (Procfile.dev, ENVIRONMENT=development)."""

from __future__ import annotations

from pathlib import Path

from common.celery_app import create_celery_app
from common.settings import ServiceSettings

from .conftest import Start, wait_for

DEVELOPMENT = {"ENVIRONMENT": "development", "LOG_LEVEL": "INFO"}


def text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_worker_pool_processes_and_beat_write_files_of_their_own(
    start: Start, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    logs = tmp_path / "var" / "log"
    worker = start(
        "worker",
        *("-A", "reports_tasks", "worker", "-Q", "reports", "--concurrency", "2"),
        *("--without-mingle", "--without-gossip", "--loglevel", "INFO"),
        env=DEVELOPMENT,
    )
    beat = start(
        "beat",
        *("-A", "reports_tasks", "beat", "--schedule", str(tmp_path / "schedule")),
        *("--loglevel", "INFO"),
        env=DEVELOPMENT,
    )
    wait_for(worker, lambda: "ready." in text(logs / "reports-worker.log"), "worker ready")
    wait_for(beat, lambda: "beat: Starting" in text(logs / "reports-beat.log"), "beat started")

    app = create_celery_app(
        "reports",
        ServiceSettings(
            _env_file=None, environment="test", redis_url=redis_url, redis_key_prefix=redis_prefix
        ),
    )
    try:
        for number in range(6):
            app.send_task("reports.note", args=[f"task-{number}"])
    finally:
        app.close()
    pool_files = [logs / "reports-worker-1.log", logs / "reports-worker-2.log"]
    wait_for(
        worker,
        lambda: "".join(map(text, pool_files)).count("noted task-") == 6,
        "six tasks logged by the pool",
    )

    assert sorted(path.name for path in logs.iterdir()) == [
        "reports-beat.log",
        "reports-worker-1.log",
        "reports-worker-2.log",
        "reports-worker.log",
    ]
    # The tasks ran in the pool processes: their lines are in the pool's files only.
    assert "noted task-" not in text(logs / "reports-worker.log")
    assert "noted task-" not in text(logs / "reports-beat.log")
    assert "ready." not in "".join(map(text, pool_files))
