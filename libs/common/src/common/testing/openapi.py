"""The OpenAPI contract, checked from a service's own tests: every operation of its document has
the id of the rule (`common.operation_ids`), no two the same, and a summary of its own; and a
Python client generated from the document by a maintained generator (openapi-python-client, a
development dependency of the workspace) builds, its functions named after those ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from common.operation_ids import operation_id

SUBPROCESS_TIMEOUT_SECONDS = 120

# `python -c _IMPORT_EVERY_MODULE <folder> <package>`: imports the package and every module in
# it (which compiles each one) and prints, for each API module, the public functions it defines.
_IMPORT_EVERY_MODULE = """
import importlib, inspect, json, pkgutil, sys
sys.path.insert(0, sys.argv[1])
package = importlib.import_module(sys.argv[2])
functions = {}
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    module = importlib.import_module(info.name)
    if ".api." in info.name and not info.ispkg:
        functions[info.name.rpartition(".")[2]] = sorted(
            name for name, value in vars(module).items()
            if inspect.isfunction(value) and value.__module__ == info.name
            and not name.startswith("_")
        )
print(json.dumps(functions))
"""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def documented_operations(document: Mapping[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI document (method in upper case)."""
    return [
        Operation(
            method=method.upper(),
            path=path,
            operation_id=operation.get("operationId", ""),
            summary=operation.get("summary", ""),
        )
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    ]


def assert_operation_ids(app: FastAPI, *, api_prefix: str) -> list[Operation]:
    """Every operation of `app`'s document has the id `common.operation_ids` gives its path and
    method, and no two share one (FastAPI only warns of that); returns the operations."""
    operations = documented_operations(app.openapi())
    assert operations, "the document has no operation: nothing was checked"
    misnamed = {
        str(op): f"{op.operation_id} (expected {expected})"
        for op in operations
        if op.operation_id
        != (expected := operation_id(op.path, [op.method], api_prefix=api_prefix))
    }
    assert not misnamed, (
        "operation ids not made by common.operation_ids (an explicit operation_id, or a route "
        f"of several methods: declare one route per method): {misnamed}"
    )
    sharing: defaultdict[str, list[str]] = defaultdict(list)
    for op in operations:
        sharing[op.operation_id].append(str(op))
    duplicated = {name: ops for name, ops in sharing.items() if len(ops) > 1}
    assert not duplicated, (
        f"operations sharing an id (paths that differ in punctuation only): {duplicated}"
    )
    return operations


def default_summaries(app: FastAPI) -> dict[tuple[str, str], str]:
    """(method, path) → the summary FastAPI makes up from the function's name ("Read Me")."""
    defaults: dict[tuple[str, str], str] = {}
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            default = str(context.name).replace("_", " ").title()
            for method in context.methods or ():
                defaults[method, str(context.path_format)] = default
    return defaults


def assert_summaries(app: FastAPI) -> list[Operation]:
    """Every operation of `app`'s document has a summary of its own (`summary=` on the route),
    not the one FastAPI makes up from the function's name; returns the operations."""
    operations = documented_operations(app.openapi())
    assert operations, "the document has no operation: nothing was checked"
    defaults = default_summaries(app)
    lacking = [
        f"{op}: {op.summary!r}"
        for op in operations
        if not op.summary.strip()
        or op.summary.casefold() == defaults.get((op.method, op.path), "").casefold()
    ]
    assert not lacking, f"operations without a summary of their own (summary=...): {lacking}"
    return operations


def _run(
    command: list[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter, its arguments ours)
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        check=False,
    )


def generate_client(
    document: Mapping[str, Any], into: Path, *, name: str = "generated_client"
) -> Path:
    """A Python client of `document`, generated by openapi-python-client into `into/name` (a
    bare package, no project metadata: nothing to install), offline. Fails on any warning of
    the generator (an operation or schema it skipped). Returns the package's folder."""
    into.mkdir(parents=True, exist_ok=True)
    spec = into / "openapi.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    package = into / name
    # The generator formats its output with ruff, found on PATH: the one of this environment.
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")])}
    command = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        f"--path={spec}",
        "--meta=none",
        f"--output-path={package}",
        "--fail-on-warning",
    ]
    result = _run(command, cwd=into, env=env)
    assert result.returncode == 0, f"openapi-python-client failed:\n{result.stdout}{result.stderr}"
    return package


def import_client(package: Path) -> dict[str, list[str]]:
    """Imports the generated package and every module of it in a fresh interpreter (so each
    compiles and its imports resolve); returns each API module's name → its public functions."""
    command = [sys.executable, "-c", _IMPORT_EVERY_MODULE, str(package.parent), package.name]
    result = _run(command, cwd=package.parent)
    assert result.returncode == 0, f"the generated client does not import:\n{result.stderr}"
    functions: dict[str, list[str]] = json.loads(result.stdout)
    return functions


def assert_client_builds(app: FastAPI, into: Path) -> dict[str, list[str]]:
    """A client generated from `app`'s document imports, every module of it, and has one API
    module per operation, named after its id (`auth-me-get` → `api/<tag>/auth_me_get.py`), with
    the generator's `sync_detailed` and `asyncio_detailed`. Returns what `import_client` does."""
    document = app.openapi()
    functions = import_client(generate_client(document, into))
    expected = {op.operation_id.replace("-", "_") for op in documented_operations(document)}
    assert set(functions) == expected, (
        f"API modules {sorted(functions)} are not the operation ids {sorted(expected)}"
    )
    incomplete = {
        module: names
        for module, names in functions.items()
        if not {"sync_detailed", "asyncio_detailed"} <= set(names)
    }
    assert not incomplete, f"API modules without the generator's functions: {incomplete}"
    return functions
