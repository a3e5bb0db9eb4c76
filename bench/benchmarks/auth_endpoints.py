"""3. `GET /api/v1/auth/me` and `POST /api/v1/auth/login` throughput and latency with one
worker. Targets: /auth/me >= 900 req/s; login under 64 concurrent clients never stalls (p99
under 2 s, no errors but deliberate 429s).

`/health` on the same server is measured alongside as the ceiling of this app's middleware
stack, so the cost of each endpoint shows as a ratio. /auth/me verifies the bearer token
(cached after the first use, as in production), then reads the user and their roles.
"""

from __future__ import annotations

from bench import wire
from bench.accounts import AUTH_FACTORY, AUTH_OVERRIDES, LOGIN_PATH, ME_PATH, create_accounts
from bench.environment import bench_environment
from bench.report import Report, Row, Table
from bench.runner import Options, Phase, run_interleaved
from bench.servers import run_server
from bench.spec import Stream
from bench.verdicts import no_errors, p99_below, rps_at_least

KEY = "auth-endpoints"
TITLE = "3. /auth/me and /auth/login throughput and latency, one worker"
USERS = 64
READ_CONNECTIONS = 32
LOGIN_CLIENTS = 64
ME_TARGET_RPS = 900.0
LOGIN_P99_TARGET_MS = 2000.0


async def run(options: Options) -> Report:
    report = Report(
        key=KEY,
        title=TITLE,
        setup=[
            f"auth service (`{AUTH_FACTORY}`), throttle limits raised by env: {AUTH_OVERRIDES}",
            f"/health and /auth/me: {READ_CONNECTIONS} connections, closed loop, "
            f"{USERS} users' tokens cycled; login: {LOGIN_CLIENTS} connections, closed loop, "
            f"valid credentials of {USERS} users",
            *options.describe(),
        ],
    )
    async with bench_environment() as env:
        server_env = env.server_env(**{**AUTH_OVERRIDES, **options.server_env})
        async with run_server("auth", AUTH_FACTORY, server_env, workdir=env.workdir) as server:
            accounts = await create_accounts(server, USERS, run_id=env.run_id)
            host = server.host_header
            health = Stream(
                name="health",
                connections=READ_CONNECTIONS,
                requests=[wire.get("/health", host=host)],
            )
            me = Stream(
                name="me",
                connections=READ_CONNECTIONS,
                requests=[wire.get(ME_PATH, host=host, token=a.access_token) for a in accounts],
            )
            login = Stream(
                name="login",
                connections=LOGIN_CLIENTS,
                requests=[wire.post_json(LOGIN_PATH, a.credentials(), host=host) for a in accounts],
                tolerated_statuses=[429],
                timeout=30.0,
            )
            phases = [
                Phase("health", [health]),
                Phase("me", [me]),
                Phase("login", [login], warmup=3.0),
            ]
            measured = await run_interleaved(server, phases, options, database=env.database_name)
    health_row = Row("GET /health", measured["health"]["health"], role="ceiling")
    me_row = Row(f"GET {ME_PATH}", measured["me"]["me"], baseline=health_row)
    login_row = Row(f"POST {LOGIN_PATH}", measured["login"]["login"], baseline=health_row)
    report.tables.append(Table("auth service, one worker", [health_row, me_row, login_row]))
    report.verdicts += [
        rps_at_least(f"GET {ME_PATH} throughput", me_row.measured, ME_TARGET_RPS),
        no_errors(f"GET {ME_PATH} errors", me_row.measured),
        p99_below(
            f"POST {LOGIN_PATH} p99, {LOGIN_CLIENTS} clients",
            login_row.measured,
            LOGIN_P99_TARGET_MS,
        ),
        no_errors(f"POST {LOGIN_PATH} errors", login_row.measured),
    ]
    return report
