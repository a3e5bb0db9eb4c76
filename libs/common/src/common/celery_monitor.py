"""The Celery app Flower runs against: the shared broker (and Redis key prefix) of every
service's workers, and no tasks of its own, so one Flower watches the workers of every service.

    celery -A common.celery_monitor flower --port=5555 --address=127.0.0.1

It reads the broker settings every service reads (`REDIS_URL`, `CELERY_BROKER_URL`,
`REDIS_KEY_PREFIX`); the workers send task events (`common.celery_app`), which Flower follows.
"""

from __future__ import annotations

from common.celery_app import create_celery_app
from common.settings import ServiceSettings


class MonitorSettings(ServiceSettings):
    """Only the broker fields matter here. The monitor serves no API of ours and signs nothing,
    so production's refusals about secrets, hosts, CORS and the issuer do not apply to it
    (Flower's own access is its `--basic-auth`/`--auth` options)."""

    service_name: str = "celery-monitor"

    def production_problems(self) -> list[str]:
        return []


celery_app = create_celery_app("celery-monitor", MonitorSettings())
