"""2. `/health` p99 while 16 logins run concurrently, against `/health` p99 with no load, on the
same auth server in the same run. Target: under 3x.

The probe is paced (one connection, a request every 5 ms) like a liveness probe, so it adds
almost no load of its own; a probe answered late sends its next request late rather than in a
burst, so a stall shows as one slow answer (latency is measured from the actual send).

Each login verifies an argon2id hash on the hasher's thread pool and does its database work and
RS256 signing on the event loop: the question is how much of that leaks into the latency of
everything else the loop serves.
"""

from __future__ import annotations

from bench.accounts import LOGIN_PATH
from bench.harness import AUTH_SETUP, bench_server, new_report
from bench.report import Report, Row, Table
from bench.runner import Options, Phase
from bench.spec import Stream
from bench.verdicts import no_errors, p99_ratio_below

KEY = "health-under-login"
TITLE = "2. /health p99 under 16 concurrent logins vs idle"
LOGIN_CLIENTS = 16
PROBE_INTERVAL = 0.005
TARGET_RATIO = 3.0


async def run(options: Options) -> Report:
    report = new_report(
        KEY,
        TITLE,
        options,
        AUTH_SETUP,
        f"probe: 1 connection, GET /health every {PROBE_INTERVAL * 1000:g} ms; "
        f"load: {LOGIN_CLIENTS} connections, closed loop, POST {LOGIN_PATH} "
        f"with valid credentials of {LOGIN_CLIENTS} users",
    )
    async with bench_server(options, users=LOGIN_CLIENTS) as bench:
        probe = Stream(
            name="health",
            connections=1,
            requests=[bench.get("/health")],
            interval=PROBE_INTERVAL,
        )
        logins = Stream(
            name="login",
            connections=LOGIN_CLIENTS,
            requests=[bench.post_json(LOGIN_PATH, a.credentials()) for a in bench.accounts],
            tolerated_statuses=[429],
        )
        measured = await bench.measure(
            Phase("idle", [probe]), Phase("logins", [probe, logins], warmup=1.5)
        )
    idle = Row("/health, idle", measured["idle"]["health"], role="baseline")
    loaded = Row(
        "/health, 16 logins running", measured["logins"]["health"], baseline=idle, metric="p99"
    )
    login = Row(f"POST {LOGIN_PATH} (the load)", measured["logins"]["login"])
    report.tables.append(Table("auth service, one worker", [idle, loaded, login]))
    report.verdicts += [
        p99_ratio_below(
            "/health p99 under logins / idle", loaded.measured, idle.measured, TARGET_RATIO
        ),
        no_errors("login errors during the run", login.measured),
    ]
    return report
