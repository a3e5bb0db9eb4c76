"""4. Login failures reveal nothing by their timing: a wrong password for an existing account
against an e-mail no account has, same server, same run. Target: p50 and p99 within 10% of
each other (an attacker timing answers must not learn which addresses are registered).

Both candidates take the same path by design: a throttle check, one read, an argon2id
verification (against a dummy hash when there is no account), a failure count, a 401. The
throttle limits are raised so every attempt is measured, not refused.
"""

from __future__ import annotations

from bench import wire
from bench.accounts import AUTH_FACTORY, AUTH_OVERRIDES, LOGIN_PATH, create_accounts
from bench.environment import bench_environment
from bench.report import Report, Row, Table
from bench.runner import Options, Phase, run_interleaved
from bench.servers import run_server
from bench.spec import Stream
from bench.verdicts import latency_ratio_within, no_errors

KEY = "login-timing"
TITLE = "4. Login failure timing: wrong password vs unknown e-mail"
USERS = 16
CONNECTIONS = 4
TOLERANCE = 0.10


async def run(options: Options) -> Report:
    report = Report(
        key=KEY,
        title=TITLE,
        setup=[
            f"auth service (`{AUTH_FACTORY}`), throttle limits raised by env: {AUTH_OVERRIDES}",
            f"{CONNECTIONS} connections per candidate, closed loop; wrong passwords for "
            f"{USERS} existing accounts vs {USERS} addresses with no account; both answer 401",
            *options.describe(),
        ],
    )
    async with bench_environment() as env:
        server_env = env.server_env(**{**AUTH_OVERRIDES, **options.server_env})
        async with run_server("auth", AUTH_FACTORY, server_env, workdir=env.workdir) as server:
            accounts = await create_accounts(server, USERS, run_id=env.run_id)
            host = server.host_header
            wrong = Stream(
                name="wrong-password",
                connections=CONNECTIONS,
                requests=[
                    wire.post_json(
                        LOGIN_PATH, {"email": a.email, "password": "not the password"}, host=host
                    )
                    for a in accounts
                ],
                ok_statuses=[401],
            )
            unknown = Stream(
                name="unknown-email",
                connections=CONNECTIONS,
                requests=[
                    wire.post_json(
                        LOGIN_PATH,
                        {
                            "email": f"nobody{i}@bench-{env.run_id}.example.com",
                            "password": "not the password",
                        },
                        host=host,
                    )
                    for i in range(USERS)
                ],
                ok_statuses=[401],
            )
            phases = [
                Phase("wrong-password", [wrong], warmup=2.0),
                Phase("unknown-email", [unknown], warmup=2.0),
            ]
            measured = await run_interleaved(server, phases, options, database=env.database_name)
    wrong_row = Row(
        "wrong password, existing account",
        measured["wrong-password"]["wrong-password"],
        role="baseline",
    )
    unknown_row = Row(
        "unknown e-mail",
        measured["unknown-email"]["unknown-email"],
        baseline=wrong_row,
        metric="p50",
    )
    report.tables.append(Table("auth service, one worker", [wrong_row, unknown_row]))
    for by in ("p50", "p99"):
        report.verdicts.append(
            latency_ratio_within(
                f"unknown / wrong-password {by}",
                unknown_row.measured,
                wrong_row.measured,
                by=by,
                tolerance=TOLERANCE,
            )
        )
    report.verdicts += [
        no_errors("wrong-password answers other than 401", wrong_row.measured),
        no_errors("unknown-email answers other than 401", unknown_row.measured),
    ]
    return report
