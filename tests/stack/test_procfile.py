"""Ctrl-C on `make dev`: honcho stops the Celery lines of Procfile.dev (worker, beat, Flower),
run as they are written, with exit status 0 and no traceback."""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from common.testing import free_port

from .conftest import DEADLINE, Process, Start, wait_for

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile.dev"
CELERY_LINES = ("worker", "beat", "flower")


def procfile_lines(names: tuple[str, ...], flower_port: int) -> str:
    """Those lines of Procfile.dev, Flower on a free port."""
    lines = [
        line
        for line in PROCFILE.read_text().splitlines()
        if line.split(":", 1)[0] in names and not line.startswith("#")
    ]
    assert len(lines) == len(names), lines
    return "\n".join(re.sub(r"--port=\d+", f"--port={flower_port}", line) for line in lines)


def everything(process: Process) -> str:
    return process.log.read_text(errors="replace")


def printed(process: Process, text: str) -> Callable[[], bool]:
    return lambda: text in everything(process)


def test_ctrl_c_stops_the_celery_lines_with_status_0(start: Start, tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text(procfile_lines(CELERY_LINES, free_port()) + "\n")
    (tmp_path / "var").mkdir()
    # As `make dev` runs honcho: with `uv run`, which puts the environment's programs first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    honcho = start(
        "honcho",
        "-f",
        "Procfile",
        "start",
        module="honcho",
        env={"PATH": path, "LOG_LEVEL": "INFO"},
    )
    for started, what in [("ready.", "worker"), ("beat: Starting", "beat"), ("Visit me", "Flower")]:
        wait_for(honcho, printed(honcho, started), f"{what} started")

    honcho.popen.send_signal(signal.SIGINT)
    honcho.popen.wait(timeout=DEADLINE)

    output = everything(honcho)
    assert "Traceback" not in output, output
    for name in CELERY_LINES:
        assert f"{name}.1 stopped (rc=0)" in output, output
