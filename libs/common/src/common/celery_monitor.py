"""The Celery app Flower runs against: the shared broker (and Redis key prefix) of every
service's workers, and no tasks of its own, so one Flower watches the workers of every service.

    celery -A common.celery_monitor flower --port=5555 --address=127.0.0.1

It reads the broker settings every service reads (`REDIS_URL`, `CELERY_BROKER_URL`,
`REDIS_KEY_PREFIX`); the workers send task events (`common.celery_app`), which Flower follows.

Loading it also makes Flower stop once on SIGTERM (`_stop_once`).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

from common.celery_app import create_celery_app
from common.settings import ServiceSettings

logger = logging.getLogger(__name__)


class MonitorSettings(ServiceSettings):
    """Only the broker fields matter here. The monitor serves no API of ours and signs nothing,
    so production's refusals about secrets, hosts, CORS and the issuer do not apply to it
    (Flower's own access is its `--basic-auth`/`--auth` options)."""

    service_name: str = "celery-monitor"

    def production_problems(self) -> list[str]:
        return []


def _stop_once(signum: int, _frame: FrameType | None) -> None:
    """Flower's SIGTERM handler raises SystemExit wherever the main thread is, on every SIGTERM.
    A supervisor that signals a process group with a forwarding wrapper in it sends two (honcho
    did, with `uv run` on the Procfile line): the second landed in the interpreter's shutdown,
    joining Flower's threads, and printed a SystemExit traceback. Stop on the first; ignore the
    rest."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logger.info("%s received, stopping", signal.Signals(signum).name)
    raise SystemExit(0)


def _stop_flower_once() -> None:
    """Put `_stop_once` where Flower's command takes its SIGTERM handler from. Celery loads this
    app (`-A`) before it runs the `flower` command, which installs the handler it finds there."""
    try:
        from flower import command  # noqa: PLC0415 (a development tool, absent elsewhere)
    except ImportError:
        return
    command.sigterm_handler = _stop_once


_stop_flower_once()
celery_app = create_celery_app("celery-monitor", MonitorSettings())
