"""The preamble every benchmark of one server repeats, in one place: a fresh environment, the
server with production settings (plus the benchmark's overrides and `--server-env`), users
created through its API, and the interleaved rounds against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bench import wire
from bench.accounts import AUTH_FACTORY, AUTH_OVERRIDES, Account, create_accounts
from bench.environment import BenchEnvironment, bench_environment
from bench.report import Report
from bench.runner import Options, Phase, run_interleaved
from bench.servers import Server, run_server
from bench.stats import Measurement

AUTH_SETUP = f"auth service (`{AUTH_FACTORY}`), throttle limits raised by env: {AUTH_OVERRIDES}"


def new_report(key: str, title: str, options: Options, *setup: str) -> Report:
    return Report(key=key, title=title, setup=[*setup, *options.describe()])


@dataclass(frozen=True, slots=True)
class Bench:
    """A running server of a fresh environment, the accounts made on it, and the options."""

    env: BenchEnvironment
    server: Server
    server_env: Mapping[str, str]
    options: Options
    accounts: list[Account]

    def get(self, path: str, token: str | None = None) -> str:
        return wire.get(path, host=self.server.host_header, token=token)

    def post_json(self, path: str, body: object) -> str:
        return wire.post_json(path, body, host=self.server.host_header)

    async def measure(self, *phases: Phase) -> dict[str, dict[str, Measurement]]:
        """`run_interleaved` against this server, with its database's backends accounted."""
        return await run_interleaved(
            self.server, phases, self.options, database=self.env.database_name
        )


@asynccontextmanager
async def bench_server(
    options: Options,
    *,
    factory: str = AUTH_FACTORY,
    name: str = "auth",
    users: int = 0,
    overrides: Mapping[str, str] = AUTH_OVERRIDES,
) -> AsyncIterator[Bench]:
    """`bench_environment()`, then `factory` served with `overrides` and `--server-env`, then
    `options.count(users)` users registered and signed in through it."""
    async with bench_environment() as env:
        server_env = env.server_env(**{**overrides, **options.server_env})
        async with run_server(name, factory, server_env, workdir=env.workdir) as server:
            count = options.count(users) if users else 0
            accounts = await create_accounts(server, count, run_id=env.run_id)
            yield Bench(env, server, server_env, options, accounts)
