"""Real uvicorn server processes on free loopback ports, configured like production (see the
preamble of RESULTS.md: ENVIRONMENT=production with its checks, JSON logs, one worker, uvloop
and httptools named explicitly, access logs off; metrics, security headers, request ids and
TrustedHost on), and worker processes (`run_worker`: a service's `python -m ...` that answers
no HTTP) with the same settings."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
# Production refuses plain-http and loopback URLs; the benchmarks only need names (`.invalid`
# never resolves), since no client follows these URLs during a run.
ISSUER = "https://auth.bench.invalid"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


class ServerFailed(RuntimeError):
    """The server process exited or did not answer /health in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def production_env(*, database_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    """The environment every benched server gets, on top of the caller's."""
    return {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(36),
        "TRUSTED_HOSTS": "127.0.0.1,localhost",
        "MAIL_BACKEND": "smtp",
        "SMTP_STARTTLS": "true",
        "JWT_ISSUER": ISSUER,
        "PUBLIC_URL": ISSUER,
        "PASSWORD_RESET_URL": "https://app.bench.invalid/reset-password?token={token}",
        "EMAIL_VERIFICATION_URL": "https://app.bench.invalid/verify-email?token={token}",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "INFO",
    }


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    pid: int
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_header(self) -> str:
        return f"127.0.0.1:{self.port}"


def _command(factory: str, port: int) -> list[str]:
    flags = ["--factory", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    flags += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-proxy-headers"]
    return [sys.executable, "-m", "uvicorn", factory, *flags]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()


@asynccontextmanager
async def _supervised(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    workdir: Path,
    ready: Callable[[], Awaitable[bool]],
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start `argv` with `env` in `workdir`, wait until `ready()`, stop it with SIGTERM when
    the block exits. The process runs in `workdir`, not the repository, so a developer's `.env`
    cannot change the settings being measured; PYTHONPATH lets it import `bench`."""
    log = workdir / f"{name}.log"
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir,
            env={**os.environ, **env, "PYTHONPATH": pythonpath},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not await ready():
            if process.returncode is not None:
                raise ServerFailed(f"{name} exited with {process.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise ServerFailed(f"{name} did not become ready in time:\n{_tail(log)}")
            await asyncio.sleep(0.1)
        yield process
    finally:
        await _stop(process)
        if process.returncode not in (0, -signal.SIGTERM):
            sys.stderr.write(f"{name} exited with {process.returncode}:\n{_tail(log)}\n")


@asynccontextmanager
async def run_server(
    name: str, factory: str, env: Mapping[str, str], *, workdir: Path
) -> AsyncIterator[Server]:
    """Start `uvicorn <factory> --factory` with `env`; ready once `/health` answers 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=2.0) as client:

        async def healthy() -> bool:
            try:
                return (await client.get(f"{url}/health")).status_code == 200
            except httpx.TransportError:
                return False

        async with _supervised(
            name, _command(factory, port), env, workdir=workdir, ready=healthy
        ) as process:
            yield Server(name=name, pid=process.pid, port=port, log=workdir / f"{name}.log")


@dataclass(frozen=True, slots=True)
class Worker:
    """A service process that answers no HTTP (e.g. a stream consumer)."""

    name: str
    pid: int
    log: Path


@asynccontextmanager
async def run_worker(
    name: str,
    module: str,
    env: Mapping[str, str],
    *,
    workdir: Path,
    ready: Callable[[], Awaitable[bool]],
) -> AsyncIterator[Worker]:
    """Start `python -m <module>` with `env` like `run_server`. A worker has no /health, so
    the caller says what "started" means (e.g. its consumer group exists)."""
    argv = [sys.executable, "-m", module]
    async with _supervised(name, argv, env, workdir=workdir, ready=ready) as process:
        yield Worker(name=name, pid=process.pid, log=workdir / f"{name}.log")
