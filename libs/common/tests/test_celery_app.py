"""`create_celery_app`: JSON only, late acknowledgement, the service's queue and Redis prefix, and
the request id carried from the request that queued a task into the task itself (through a real
Redis broker)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

from common.celery_app import REQUEST_ID_TASK_HEADER, create_celery_app
from common.context import get_request_id, request_id_var
from common.settings import ServiceSettings

SettingsFactory = Callable[..., ServiceSettings]
QUEUE = "common-test"


@pytest.fixture
def settings(redis_url: str, redis_prefix: str) -> ServiceSettings:
    return ServiceSettings(
        _env_file=None,
        service_name="common-test",
        environment="test",
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
    )


@pytest.fixture
def celery_app(settings: ServiceSettings) -> Iterator[Celery]:
    app = create_celery_app(QUEUE, settings)
    yield app
    app.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def queued_messages(client: redis.Redis, prefix: str) -> list[dict[str, Any]]:
    """The messages waiting in the service's queue, as the Redis transport stores them."""
    raw: list[str] = client.lrange(f"{prefix}{QUEUE}", 0, -1)  # type: ignore[assignment]
    return [json.loads(message) for message in raw]


class TestConfiguration:
    def test_only_json_is_sent_and_accepted(self, celery_app: Celery) -> None:
        conf = celery_app.conf

        assert (conf.task_serializer, conf.result_serializer) == ("json", "json")
        assert conf.accept_content == ["json"]

    def test_tasks_are_acknowledged_after_they_ran(self, celery_app: Celery) -> None:
        conf = celery_app.conf

        assert conf.task_acks_late is True
        assert conf.task_reject_on_worker_lost is True
        assert conf.worker_prefetch_multiplier == 1

    def test_tasks_go_to_the_queue_named_after_the_service(self, celery_app: Celery) -> None:
        assert celery_app.conf.task_default_queue == QUEUE
        assert celery_app.main == QUEUE

    def test_the_broker_is_the_services_redis(
        self, celery_app: Celery, settings: ServiceSettings
    ) -> None:
        assert celery_app.conf.broker_url == settings.redis_url

    def test_a_dedicated_broker_url_wins(self, settings: ServiceSettings) -> None:
        dedicated = settings.model_copy(update={"celery_broker_url": "redis://127.0.0.1:6379/5"})

        app = create_celery_app(QUEUE, dedicated)

        assert app.conf.broker_url == "redis://127.0.0.1:6379/5"

    def test_broker_keys_carry_the_redis_prefix(
        self, celery_app: Celery, redis_prefix: str
    ) -> None:
        options = celery_app.conf.broker_transport_options

        assert options["global_keyprefix"] == redis_prefix
        assert options["visibility_timeout"] == 3600

    def test_no_prefix_option_without_a_prefix(self, settings: ServiceSettings) -> None:
        app = create_celery_app(QUEUE, settings.model_copy(update={"redis_key_prefix": ""}))

        assert "global_keyprefix" not in app.conf.broker_transport_options

    def test_results_are_not_kept_and_events_are_sent_for_flower(self, celery_app: Celery) -> None:
        conf = celery_app.conf

        assert conf.task_ignore_result is True
        assert conf.worker_send_task_events is True
        assert conf.task_send_sent_event is True
        assert (conf.timezone, conf.enable_utc) == ("UTC", True)

    def test_time_limits_stop_a_runaway_task(self, celery_app: Celery) -> None:
        assert celery_app.conf.task_soft_time_limit < celery_app.conf.task_time_limit


class TestRequestIdOnPublish:
    def test_a_task_queued_in_a_request_carries_its_id(
        self, celery_app: Celery, redis_client: redis.Redis, redis_prefix: str
    ) -> None:
        token = request_id_var.set("req-celery-1")
        try:
            celery_app.send_task("common_test.noop", kwargs={"n": 1})
        finally:
            request_id_var.reset(token)

        [message] = queued_messages(redis_client, redis_prefix)
        assert message["headers"][REQUEST_ID_TASK_HEADER] == "req-celery-1"
        assert message["headers"]["task"] == "common_test.noop"
        assert message["content-type"] == "application/json"

    def test_a_task_queued_outside_a_request_carries_none(
        self, celery_app: Celery, redis_client: redis.Redis, redis_prefix: str
    ) -> None:
        celery_app.send_task("common_test.noop")

        [message] = queued_messages(redis_client, redis_prefix)
        assert REQUEST_ID_TASK_HEADER not in message["headers"]

    def test_nothing_is_queued_outside_the_prefix(
        self, celery_app: Celery, redis_client: redis.Redis, redis_prefix: str
    ) -> None:
        celery_app.send_task("common_test.noop")

        assert redis_client.llen(QUEUE) == 0
        assert redis_client.llen(f"{redis_prefix}{QUEUE}") == 1


class TestRequestIdInTheWorker:
    def test_the_task_runs_with_the_request_id_of_its_request(
        self, celery_app: Celery, redis_client: redis.Redis, redis_prefix: str
    ) -> None:
        result_key = f"{redis_prefix}seen"

        @celery_app.task(name="common_test.record_request_id")  # type: ignore[untyped-decorator]  # celery is untyped
        def record_request_id(label: str) -> None:
            redis_client.rpush(result_key, f"{label}={get_request_id()}")

        token = request_id_var.set("req-worker-1")
        try:
            record_request_id.delay("first")
        finally:
            request_id_var.reset(token)
        record_request_id.delay("second")

        with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            deadline = time.monotonic() + 10
            while redis_client.llen(result_key) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)

        # The second task was queued outside a request: the first one's id must not leak into it.
        assert redis_client.lrange(result_key, 0, -1) == ["first=req-worker-1", "second=None"]
