"""3. `GET /api/v1/auth/me` and `POST /api/v1/auth/login` throughput and latency with one
worker. Targets: /auth/me >= 900 req/s; login under 64 concurrent clients never stalls (p99
under 2 s, no errors but deliberate 429s).

`/health` on the same server is measured alongside as the ceiling of this app's middleware
stack, so the cost of each endpoint shows as a ratio. /auth/me verifies the bearer token
(cached after the first use, as in production), then reads the user and their roles.
"""

from __future__ import annotations

from bench.accounts import LOGIN_PATH, ME_PATH
from bench.harness import AUTH_SETUP, bench_server, new_report
from bench.report import Report, Row, Table
from bench.runner import Options, Phase
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
    report = new_report(
        KEY,
        TITLE,
        options,
        AUTH_SETUP,
        f"/health and /auth/me: {READ_CONNECTIONS} connections, closed loop, "
        f"{USERS} users' tokens cycled; login: {LOGIN_CLIENTS} connections, closed loop, "
        f"valid credentials of {USERS} users",
    )
    async with bench_server(options, users=USERS) as bench:
        accounts = bench.accounts
        health = Stream(
            name="health", connections=READ_CONNECTIONS, requests=[bench.get("/health")]
        )
        me = Stream(
            name="me",
            connections=READ_CONNECTIONS,
            requests=[bench.get(ME_PATH, token=a.access_token) for a in accounts],
        )
        login = Stream(
            name="login",
            connections=LOGIN_CLIENTS,
            requests=[bench.post_json(LOGIN_PATH, a.credentials()) for a in accounts],
            tolerated_statuses=[429],
            timeout=30.0,
        )
        measured = await bench.measure(
            Phase("health", [health]), Phase("me", [me]), Phase("login", [login], warmup=3.0)
        )
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
