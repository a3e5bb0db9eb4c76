"""5. Audit ingestion: events from a service's outbox to a row anyone can query, with one relay
and one consumer. Targets: at least 5,000 events/s sustained; at 1,000 events/s, p99 from the
producer's COMMIT to the event being listed by `GET /activity` under 1 s; nothing lost, nothing
stored twice.

Everything runs as in production: the relay inside the auth server (its lifespan task, default
batch and idle interval), the consumer as `python -m activity_service.consumer`, the activity
API as a uvicorn server verifying tokens against the auth server's JWKS. This process is the
producer (the way a service writes its outbox) and the observer. The phases, one module each:
`sustained` (A, the rate) then `latency` (B); after each, `Pipeline.finish` checks that stored
rows and distinct ids equal what was produced, nothing is left in the outbox or unacknowledged
in the stream, and `/activity/verify` accepts the chain.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import asyncpg
import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from activity_service.settings import ActivitySettings
from bench import cpu
from bench.accounts import AUTH_FACTORY, admin_token
from bench.benchmarks.audit_ingestion import latency, sustained
from bench.benchmarks.audit_ingestion.pipeline import Outcome, Pipeline, build_events
from bench.benchmarks.audit_ingestion.probes import event_count
from bench.harness import bench_server
from bench.report import Grid, Report, columns, fmt_rps
from bench.runner import Options
from bench.servers import run_server, run_worker
from bench.verdicts import all_zero
from common.redis import KeySpace

KEY = "audit-ingestion"
TITLE = (
    "5. Audit ingestion: outbox -> relay -> stream -> consumer -> queryable, 1 relay, 1 consumer"
)
ACTIVITY_FACTORY = "activity_service.main:create_app"
CONSUMER_MODULE = "activity_service.consumer"


def _setting(options: Options, name: str) -> str:
    """The value a setting of the consumer/relay has in this run: `--server-env` or the
    default of the settings classes (ActivitySettings extends the shared ServiceSettings)."""
    override = options.server_env.get(name.upper())
    return override if override is not None else str(ActivitySettings.model_fields[name].default)


def _setup(options: Options) -> list[str]:
    def settings(*names: str) -> str:
        return ", ".join(f"{name.upper()}={_setting(options, name)}" for name in names)

    return [
        f"relay: inside the auth server (`{AUTH_FACTORY}`, its lifespan task, as in "
        f"production), {settings('audit_relay_batch_size', 'audit_relay_idle_interval')}; the "
        "server answers no requests during the phases",
        f"consumer: one `python -m {CONSUMER_MODULE}` process, production settings, "
        + settings("audit_consumer_batch_size", "audit_consumer_block_ms"),
        f"activity API: `{ACTIVITY_FACTORY}`, JWKS from the auth server; read as a "
        "super_admin made with `auth_service.cli create-admin` and signed in through the API",
        "events: `auth.user.login` built by the auth service's AuditRecorder (~480 bytes of "
        "JSON) before each phase; this process writes them to auth.audit_outbox, one "
        "multi-row INSERT per transaction",
        f"A: {fmt_rps(sustained.OFFERED_RATE)} events/s offered in transactions of "
        f"{sustained.BATCH}, at most {sustained.IN_FLIGHT_CAP:,} in flight, "
        f"{options.scaled(sustained.WARMUP):g} s warm-up; B: {fmt_rps(latency.RATE)} events/s, "
        f"{options.scaled(latency.WARMUP):g} s warm-up, poll every "
        f"{latency.POLL_INTERVAL * 1000:g} ms",
        f"{options.rounds} consecutive rounds of {options.duration:g} s per phase (one "
        "continuous run each: the pipeline's state carries over, so phases are not "
        "interleaved)",
        *options.describe()[1:],
    ]


async def _pipeline(stack: AsyncExitStack, options: Options, report: Report) -> Pipeline:
    """The auth server (the relay), the consumer and the activity API of a fresh environment,
    and the benchmark's connections to them; all closed with `stack`."""
    bench = await stack.enter_async_context(bench_server(options, overrides={}))
    env, auth = bench.env, bench.server
    # The admin is made (a CLI process, then a login) while the other processes start.
    token = asyncio.create_task(
        admin_token(auth, bench.server_env, run_id=env.run_id, workdir=env.workdir)
    )
    stack.callback(token.cancel)
    redis = Redis.from_url(env.redis_url, decode_responses=True)
    stack.push_async_callback(redis.aclose)
    stream = KeySpace(env.redis_prefix).key(_setting(options, "audit_stream"))
    group = _setting(options, "audit_consumer_group")

    async def consumer_ready() -> bool:
        """The consumer created its group on the stream: it is up and reading."""
        try:
            return any(g["name"] == group for g in await redis.xinfo_groups(stream))
        except RedisError:  # no stream yet
            return False

    consumer = await stack.enter_async_context(
        run_worker(
            "consumer", CONSUMER_MODULE, bench.server_env, workdir=env.workdir, ready=consumer_ready
        )
    )
    activity_env = {**bench.server_env, "JWKS_URL": f"{auth.url}/.well-known/jwks.json"}
    activity = await stack.enter_async_context(
        run_server("activity", ACTIVITY_FACTORY, activity_env, workdir=env.workdir)
    )
    dsn = env.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connections = [
        await asyncpg.connect(dsn, server_settings={"application_name": "bench"}) for _ in range(3)
    ]
    for connection in connections:
        stack.push_async_callback(connection.close)
    pg = [
        f"{name}={await connections[2].fetchval(f'SHOW {name}')}"
        for name in ("synchronous_commit", "fsync", "autovacuum")
    ]
    report.setup.append(f"PostgreSQL 15 of this machine: {', '.join(pg)}")
    api = httpx.AsyncClient(
        base_url=activity.url, headers={"Authorization": f"Bearer {await token}"}, timeout=10.0
    )
    stack.push_async_callback(api.aclose)
    return Pipeline(
        producer=connections[0],
        sampler=connections[1],
        checks=connections[2],
        redis=redis,
        api=api,
        stream=stream,
        group=group,
        consumer_log=consumer.log,
        cpu_groups={
            "relay": [auth.pid],
            "consumer": [consumer.pid],
            "api": [activity.pid],
            "db-bg": cpu.find_processes(postgres_background=True),
            "redis": cpu.find_processes(prefix=b"redis-server"),
        },
        database=env.database_name,
    )


def _stats_row(phase: str, outcome: Outcome) -> list[str]:
    stats, produced = outcome.stats, outcome.integrity.produced
    per_event = f"{stats.event_rows_scanned / produced:,.1f}" if produced else "-"
    counts = (stats.event_seq_scans, stats.event_rows_scanned)
    return [phase, *(f"{n:,}" for n in counts), per_event, f"{stats.outbox_dead_rows:,}"]


def _checks(report: Report, a: Outcome, b: Outcome) -> None:
    """The integrity and PostgreSQL grids of both phases, and the verdicts on what they left."""
    both = {"A": a.integrity, "B": b.integrity}
    report.grids += [
        Grid(
            "integrity after each phase (rows with seq above the phase's starting head)",
            columns(
                "phase | produced | stored rows | distinct ids | lost | duplicated | unexpected | "
                "stream entries | redeliveries skipped | outbox left | stream unconsumed | "
                "GET /activity/verify"
            ),
            [a.integrity.row("A sustained"), b.integrity.row("B latency")],
        ),
        Grid(
            "PostgreSQL during each phase (pg_stat_user_tables)",
            columns(
                "phase | seq scans of activity.event | rows they read | rows read per event "
                "stored | dead rows in auth.audit_outbox at the end"
            ),
            [_stats_row("A sustained", a), _stats_row("B latency", b)],
        ),
    ]
    report.verdicts += [
        a.verdict,
        b.verdict,
        all_zero(
            "events lost and stored twice",
            {
                "lost": sum(r.lost for r in both.values()),
                "duplicated": sum(r.duplicated for r in both.values()),
            },
            per=[
                f"{k}: {r.lost} lost, {r.duplicated} dup of {r.produced:,}" for k, r in both.items()
            ],
            target="0 and 0",
        ),
        all_zero(
            "left behind: outbox rows, unconsumed entries, broken chains, foreign rows",
            {
                "outbox rows": sum(r.outbox_left for r in both.values()),
                "unconsumed": sum(r.unconsumed for r in both.values()),
                "broken chains": sum(not r.verify_ok for r in both.values()),
                "foreign rows": sum(r.unexpected for r in both.values()),
            },
            per=[f"{k}: verify {r.verify_detail}" for k, r in both.items()],
            target="all 0",
        ),
    ]


async def run(options: Options) -> Report:
    report = Report(key=KEY, title=TITLE, setup=_setup(options))
    counts = (
        event_count(sustained.OFFERED_RATE, sustained.WARMUP, options),
        event_count(latency.RATE, latency.WARMUP, options),
    )
    batch = int(_setting(options, "audit_consumer_batch_size"))
    async with AsyncExitStack() as stack:
        # Both phases' events are built in a thread (pure Python work) while the servers start.
        building = asyncio.create_task(asyncio.to_thread(build_events, sum(counts)))
        stack.callback(building.cancel)
        pipeline = await _pipeline(stack, options, report)
        events = await building
        await pipeline.settle(expected_head=None)  # the admin's own events go through first
        a = await sustained.run(pipeline, events[: counts[0]], options, batch=batch)
        b = await latency.run(pipeline, events[counts[0] :], options)
    report.grids += [a.grid, b.grid]
    _checks(report, a, b)
    report.notes += [
        *a.notes,
        *b.notes,
        "How to read the CPU columns (bench = this process: producer, sampler, poller; db = "
        "the benchmark database's backends; db background = PostgreSQL's own processes) and "
        "why seq scans of activity.event must stay at 0: bench/README.md, "
        '"Reading audit-ingestion". PostgreSQL\'s counters are flushed about once a second, '
        "so they are lower bounds.",
    ]
    return report
