"""4. Login failures reveal nothing by their timing: a wrong password for an existing account
against an e-mail no account has, same server, same run. Target: p50 and p99 within 10% of
each other (an attacker timing answers must not learn which addresses are registered).

Both candidates take the same path by design: a throttle check, one read, an argon2id
verification (against a dummy hash when there is no account), a failure count, a 401. The
throttle limits are raised so every attempt is measured, not refused.
"""

from __future__ import annotations

from bench.accounts import LOGIN_PATH
from bench.harness import AUTH_SETUP, bench_server, new_report
from bench.report import Report, Row, Table
from bench.runner import Options, Phase
from bench.spec import Stream
from bench.verdicts import latency_ratio_within, no_errors

KEY = "login-timing"
TITLE = "4. Login failure timing: wrong password vs unknown e-mail"
USERS = 16
CONNECTIONS = 4
TOLERANCE = 0.10
WRONG = "not the password"


async def run(options: Options) -> Report:
    report = new_report(
        KEY,
        TITLE,
        options,
        AUTH_SETUP,
        f"{CONNECTIONS} connections per candidate, closed loop; wrong passwords for "
        f"{USERS} existing accounts vs {USERS} addresses with no account; both answer 401",
    )
    async with bench_server(options, users=USERS) as bench:
        emails = {
            "wrong-password": [a.email for a in bench.accounts],
            "unknown-email": [
                f"nobody{i}@bench-{bench.env.run_id}.example.com"
                for i in range(len(bench.accounts))
            ],
        }
        measured = await bench.measure(
            *(
                Phase(
                    name,
                    [
                        Stream(
                            name=name,
                            connections=CONNECTIONS,
                            requests=[
                                bench.post_json(LOGIN_PATH, {"email": e, "password": WRONG})
                                for e in addresses
                            ],
                            ok_statuses=[401],
                        )
                    ],
                    warmup=2.0,
                )
                for name, addresses in emails.items()
            )
        )
    wrong = Row(
        "wrong password, existing account",
        measured["wrong-password"]["wrong-password"],
        role="baseline",
    )
    unknown = Row(
        "unknown e-mail", measured["unknown-email"]["unknown-email"], baseline=wrong, metric="p50"
    )
    report.tables.append(Table("auth service, one worker", [wrong, unknown]))
    for by in ("p50", "p99"):
        report.verdicts.append(
            latency_ratio_within(
                f"unknown / wrong-password {by}",
                unknown.measured,
                wrong.measured,
                by=by,
                tolerance=TOLERANCE,
            )
        )
    report.verdicts += [
        no_errors("wrong-password answers other than 401", wrong.measured),
        no_errors("unknown-email answers other than 401", unknown.measured),
    ]
    return report
