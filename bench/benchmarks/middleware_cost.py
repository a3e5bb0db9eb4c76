"""6. What common's app costs every request: the same trivial route on a bare FastAPI app and
on `create_service_app` with everything on, one server each, interleaved in the same run.
Target: the full stack serves >= 0.8 of the bare route's req/s.

The full server has production settings (trusted hosts, CORS origins, metrics, security headers,
limits, GZip); it is measured twice, with the request a benchmark client sends (as wrk does: no
`Origin`, no `Accept-Encoding`) and with a browser's (`Origin` of an allowed site, `Accept-Encoding:
gzip`), which takes the CORS and compression paths. A third server runs the factory's app with
its middleware taken off, to tell the middleware's cost from the rest of the app's; a fourth
runs the bare app answering with the headers the full one adds, to tell what the server pays to
write them (uvicorn checks and lower-cases every header in Python) from the middleware's work.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import wire
from bench.environment import bench_environment
from bench.middlewareapp import PING_PATH
from bench.report import Report, Row, Table
from bench.runner import Options, Phase, run_interleaved
from bench.servers import Server, run_server
from bench.spec import Stream
from bench.verdicts import ratio_at_least

KEY = "middleware-cost"
TITLE = "6. Middleware cost (a trivial route: bare FastAPI vs create_service_app)"
CONNECTIONS = 32
TARGET_RATIO = 0.8
ORIGIN = "https://app.bench.invalid"
HEADERS_ONLY = "bare FastAPI + the same response headers"
SERVERS = {
    "bare": "bench.middlewareapp:create_bare",
    "full": "bench.middlewareapp:create_full",
    "unwrapped": "bench.middlewareapp:create_unwrapped",
    "headers": "bench.middlewareapp:create_bare_with_headers",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    server: str
    request: str


def _browser_get(path: str, host: str) -> str:
    """`wire.get` with the headers a browser adds to a cross-origin call."""
    plain = wire.get(path, host=host)
    extra = f"Origin: {ORIGIN}\r\nAccept-Encoding: gzip, deflate, br\r\n"
    return plain.removesuffix("\r\n") + extra + "\r\n"


def _candidates(servers: dict[str, Server]) -> list[Candidate]:
    def host(name: str) -> str:
        return servers[name].host_header

    return [
        Candidate("bare FastAPI", "bare", wire.get(PING_PATH, host=host("bare"))),
        Candidate("create_service_app", "full", wire.get(PING_PATH, host=host("full"))),
        Candidate(
            "create_service_app, browser request",
            "full",
            _browser_get(PING_PATH, host("full")),
        ),
        Candidate(
            "create_service_app, middleware off",
            "unwrapped",
            wire.get(PING_PATH, host=host("unwrapped")),
        ),
        Candidate(HEADERS_ONLY, "headers", wire.get(PING_PATH, host=host("headers"))),
    ]


async def run(options: Options) -> Report:
    report = Report(
        key=KEY,
        title=TITLE,
        setup=[
            f"bench-only apps (`{SERVERS['bare']}`, `{SERVERS['full']}`, "
            f"`{SERVERS['unwrapped']}`), one uvicorn server each",
            f'`GET {PING_PATH}` answering `{{"ok": true}}`; the full server has CORS_ORIGINS='
            f"{ORIGIN} besides the production settings of every benched server",
            f"{CONNECTIONS} keep-alive connections, closed loop; the browser request adds "
            "`Origin` and `Accept-Encoding: gzip, deflate, br`",
            *options.describe(),
        ],
    )
    async with bench_environment() as env:
        server_env = env.server_env(**{"CORS_ORIGINS": ORIGIN, **options.server_env})
        async with (
            run_server("bare", SERVERS["bare"], server_env, workdir=env.workdir) as bare,
            run_server("full", SERVERS["full"], server_env, workdir=env.workdir) as full,
            run_server(
                "unwrapped", SERVERS["unwrapped"], server_env, workdir=env.workdir
            ) as unwrapped,
            run_server("headers", SERVERS["headers"], server_env, workdir=env.workdir) as headers,
        ):
            servers = {"bare": bare, "full": full, "unwrapped": unwrapped, "headers": headers}
            phases = [
                Phase(
                    c.name,
                    [Stream(name=c.name, connections=CONNECTIONS, requests=[c.request])],
                    server=servers[c.server],
                )
                for c in _candidates(servers)
            ]
            measured = {
                name: streams[name]
                for name, streams in (await run_interleaved(bare, phases, options)).items()
            }
    names = [c.name for c in _candidates(servers)]
    baseline = Row(names[0], measured[names[0]], role="baseline")
    rows = [baseline, *(Row(name, measured[name], baseline=baseline) for name in names[1:])]
    report.tables.append(Table("one server per app, candidates interleaved", rows))
    report.verdicts.append(
        ratio_at_least(
            "create_service_app / bare FastAPI req/s",
            measured[names[1]],
            measured[names[0]],
            TARGET_RATIO,
        )
    )
    report.verdicts.append(
        ratio_at_least(
            "same, browser request / bare FastAPI req/s",
            measured[names[2]],
            measured[names[0]],
            None,
        )
    )
    report.verdicts.append(
        ratio_at_least(
            "create_service_app / bare FastAPI with the same headers req/s (the middleware's work)",
            measured[names[1]],
            measured[HEADERS_ONLY],
            None,
        )
    )
    return report
