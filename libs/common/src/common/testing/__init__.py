"""Test harness shared by every service: a fresh database per run with every service's
migrations applied, truncation between tests, a Redis key prefix per test, real HTTP servers
on loopback, and shared assertions. Loaded by the root `conftest.py` as a pytest plugin."""

from common.testing.assertions import assert_documented, assert_error
from common.testing.cursors import cursor_of, reforged
from common.testing.permissions import assert_permissions_catalogued, permissions_checked
from common.testing.redis_server import RedisServer
from common.testing.servers import ThreadedServer, free_port, serve_app

__all__ = [
    "RedisServer",
    "ThreadedServer",
    "assert_documented",
    "assert_error",
    "assert_permissions_catalogued",
    "cursor_of",
    "free_port",
    "permissions_checked",
    "reforged",
    "serve_app",
]
