"""Celery app factory: Redis broker, JSON only, late acknowledgement, our logging (a log file
per process: `<service>-worker.log`, `<service>-worker-<n>.log` for each pool process,
`<service>-beat.log`), and the request id carried from the request that queued a task into
the logs of the task.

Every service's worker uses the same broker and sends task events, so one Flower sees them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from celery import Celery, current_app, signals
from celery.utils.log import current_process_index

from common.context import request_id_var
from common.logging import configure_logging
from common.settings import ServiceSettings

REQUEST_ID_TASK_HEADER = "request_id"


def create_celery_app(
    name: str, settings: ServiceSettings, *, include: Sequence[str] = ()
) -> Celery:
    app = Celery(name, broker=settings.celery_broker_url or settings.redis_url, include=include)
    transport_options: dict[str, Any] = {"visibility_timeout": 3600}
    if settings.redis_key_prefix:
        transport_options["global_keyprefix"] = settings.redis_key_prefix
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_default_queue=name,
        # A task is removed from the queue only after it ran; a killed worker's task runs again.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=300,
        task_soft_time_limit=240,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        timezone="UTC",
        enable_utc=True,
    )

    app.conf.service_settings = settings
    return app


def _service_settings() -> ServiceSettings | None:
    settings = getattr(current_app.conf, "service_settings", None)
    return settings if isinstance(settings, ServiceSettings) else None


def _celery_command() -> str | None:
    """The celery command this process runs (`worker`, `beat`), from Celery's command line."""
    context = click.get_current_context(silent=True)
    return context.info_name if context is not None else None


def _configure_logging(**_: Any) -> None:
    """In a worker or beat process: our logging, with the settings of the app being run, and
    a log file of its own beside the service's (`auth-worker.log`, `auth-beat.log`)."""
    settings = _service_settings()
    if settings is not None:
        configure_logging(settings, process=_celery_command())


def _configure_pool_process_logging(**_: Any) -> None:
    """In a process of the worker's prefork pool, forked with the worker's handlers: a log file
    of its own (`auth-worker-1.log`, numbered by its place in the pool, which a replacement
    process takes over)."""
    settings = _service_settings()
    if settings is not None:
        configure_logging(settings, process=f"worker-{current_process_index()}")


def _attach_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id:
        headers[REQUEST_ID_TASK_HEADER] = request_id


def _restore_request_id(task: Any = None, **_: Any) -> None:
    request_id = getattr(task.request, REQUEST_ID_TASK_HEADER, None) if task else None
    request_id_var.set(request_id if isinstance(request_id, str) else None)


def _clear_request_id(**_: Any) -> None:
    request_id_var.set(None)


signals.setup_logging.connect(_configure_logging, weak=False)
signals.worker_process_init.connect(_configure_pool_process_logging, weak=False)
signals.before_task_publish.connect(_attach_request_id, weak=False)
signals.task_prerun.connect(_restore_request_id, weak=False)
signals.task_postrun.connect(_clear_request_id, weak=False)
