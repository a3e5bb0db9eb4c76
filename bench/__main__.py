"""`python -m bench [NAME ...]`: run the benchmarks (all by default), print each one's table and
verdicts, and record them in bench/RESULTS.md with the command line that produced them.

Exit status: 0 when every target was met, 1 when one was missed, 2 when a benchmark could not
run (PostgreSQL or Redis unreachable, a server that does not start, a load generator failure).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys

from bench.benchmarks import BENCHMARKS
from bench.environment import EnvironmentFailed, migrated_template
from bench.report import Report, render_text
from bench.results import write_results
from bench.runner import LoadFailed, Options
from bench.servers import ServerFailed


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.upper(), value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Load benchmarks.")
    add = parser.add_argument
    add("names", nargs="*", metavar="NAME", help=f"default all: {', '.join(BENCHMARKS)}")
    add("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    add("--duration", type=float, default=4.0, help="measured seconds per round (default 4)")
    add(
        "--server-env",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting added to every benched server, e.g. PASSWORD_HASH_CONCURRENCY=1",
    )
    add("--scale", type=float, default=1.0, help="warm-ups and set-up sizes, <1 for smoke runs")
    add("--no-write", action="store_true", help="leave RESULTS.md alone")
    return parser


async def _run(names: list[str], options: Options) -> list[Report]:
    reports = []
    async with migrated_template():
        for name in names:
            sys.stderr.write(f"-- {name}\n")
            report = await BENCHMARKS[name](options)
            sys.stdout.write(render_text(report) + "\n\n")
            sys.stdout.flush()
            reports.append(report)
    return reports


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    parser = _parser()
    args = parser.parse_args(arguments)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.rounds < 1 or args.duration <= 0 or args.scale <= 0:
        parser.error("--rounds must be at least 1, --duration and --scale positive")
    names = args.names or list(BENCHMARKS)
    options = Options(args.rounds, args.duration, dict(args.server_env), args.scale)
    try:
        reports = asyncio.run(_run(names, options))
    except (EnvironmentFailed, ServerFailed, LoadFailed) as exc:
        sys.stderr.write(f"bench: cannot run: {exc}\n")
        return 2
    if not args.no_write:
        command = shlex.join(["uv", "run", "python", "-m", "bench", *arguments])
        path = write_results(reports, command=command, order=list(BENCHMARKS))
        sys.stdout.write(f"results written to {path}\n")
    return 0 if all(report.passed for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
