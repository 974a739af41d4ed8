"""Layering, enforced: the domain core imports no grpc, no generated code and no outer layer;
the store does not import the server; the server uses the store only through its package; the
daemon never imports the SDK (only its CLI, a client, does), nor the SDK the daemon (both share
only the API contract package); the kernel imports nothing of the project; and every module
imports on its own (no cycles that only work in a lucky import order)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "phoenixd"

# The contract's pure-Python rules (canonical JSON, token bytes): the core computes them
# exactly as every client does, so it uses the one implementation.
ALLOWED = frozenset({"phoenixflight_api.protocol"})
# layer -> module prefixes it must never import
FORBIDDEN = {
    "phoenixd/core": ("grpc", "grpc_health", "grpc_reflection", "google.protobuf",
                      "phoenixflight", "phoenixflight_api", "phoenixd.server", "phoenixd.store",
                      "phoenixd.http", "phoenixd.app", "phoenixd.cli"),
    "phoenixd/store": ("grpc", "phoenixflight", "phoenixflight_api", "phoenixd.server",
                       "phoenixd.http", "phoenixd.app", "phoenixd.cli"),
    "phoenixd/server": ("phoenixd.http", "phoenixd.app", "phoenixd.cli"),
    "phoenixd/http": ("phoenixflight", "phoenixd.store", "phoenixd.app", "phoenixd.cli"),
    "phoenixd/bundles": ("grpc", "grpc_health", "grpc_reflection", "google.protobuf",
                         "phoenixflight", "phoenixflight_api", "phoenixd.server",
                         "phoenixd.store", "phoenixd.app", "phoenixd.cli"),
    "phoenixd/sim": ("grpc", "grpc_health", "grpc_reflection", "google.protobuf",
                     "phoenixflight", "phoenixflight_api", "phoenixd.server", "phoenixd.store",
                     "phoenixd.app", "phoenixd.cli"),
}
WHY = {
    "phoenixd/core": "the core is the domain every surface (gRPC, HTTP, the simulator) and "
                     "every store shares: no transport, no generated code, no store internals",
    "phoenixd/store": "the store keeps bytes on disk; the wire format and the server are "
                      "not its business, and a second backend must stand in for it",
    "phoenixd/server": "the server is one surface; the daemon's wiring and the CLI sit above it",
    "phoenixd/http": "the HTTP surface is an adapter over the gRPC servicers and their Guard: "
                     "no store, no SDK, nothing of the daemon's wiring above it",
    "phoenixd/bundles": "bundles are pure (bytes in, records out): the CLI builds them and the "
                        "daemon reads them on apply, so they know neither the wire nor the store",
    "phoenixd/sim": "the simulator runs the core alone, in memory: no transport, no store, "
                    "nothing on disk, so that the daemon can run it too",
}


def _parse(path: Path) -> ast.Module:
    source = path.read_text()
    try:
        return ast.parse(source, str(path))
    except SystemError:
        # CPython 3.11's AST conversion can fail its own recursion-depth bookkeeping
        # ("AST constructor recursion depth mismatch") in a process that has run other work;
        # the parse is deterministic, so it is simply done again.
        return ast.parse(source, str(path))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for name in _imports(path):
            if name in ALLOWED:
                continue
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, f"{WHY[layer]}:\n" + "\n".join(bad)


STORE = PACKAGE / "store"
KERNEL = PACKAGE / "kernel"
SDK = ROOT / "clients" / "python" / "phoenixflight"


def test_the_server_uses_the_store_only_through_its_package() -> None:
    # The store's modules (journal, frames, snapshots...) are its own business: a second
    # backend (etcd) must be able to stand behind the names phoenixd.store exports.
    internal = {p.stem for p in STORE.glob("*.py") if p.stem != "__init__"}
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for layer in ("server", "http", "cli")
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in _imports(path)
        if name.startswith("phoenixd.store.") and name.split(".")[2] in internal
    ]
    assert not bad, "the server and CLI use only what phoenixd.store exports:\n" + "\n".join(bad)


def test_the_sdk_never_imports_the_daemon() -> None:
    # The SDK is installed alone by every client of the API: the daemon is not in it.
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted(SDK.rglob("*.py"))
        for name in _imports(path)
        if name == "phoenixd" or name.startswith("phoenixd.")
    ]
    assert not bad, "the SDK must not depend on phoenixd:\n" + "\n".join(bad)


def test_the_daemon_never_imports_the_sdk() -> None:
    # The daemon and the SDK agree through the API contract package alone; a daemon that
    # used the SDK would make every SDK change a daemon change. The `phoenix` CLI is a
    # client of the API like any other, so it may.
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "cli" not in path.relative_to(PACKAGE).parts[:1]
        for name in _imports(path)
        if name == "phoenixflight" or name.startswith("phoenixflight.")
    ]
    assert not bad, "the daemon uses phoenixflight_api, never the SDK:\n" + "\n".join(bad)


def test_the_kernel_imports_nothing_of_the_project() -> None:
    # The kernel is plain functions over arrays, compiled or not: importing the project
    # would tie the compiled module's build to it and create import cycles with the core.
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted(KERNEL.rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in ("phoenixd", "phoenixflight")
        and not (name == "phoenixd.kernel" or name.startswith("phoenixd.kernel."))
    ]
    for path in sorted([*KERNEL.glob("*.pyx"), *KERNEL.glob("*.pxi"), *KERNEL.glob("*.pxd")]):
        bad += [f"{path.relative_to(ROOT)}: {line.strip()}"
                for line in path.read_text().splitlines()
                if line.lstrip().startswith(("import phoenix", "from phoenix", "cimport phoenix"))]
    assert not bad, "the kernel imports only the standard library:\n" + "\n".join(bad)


def test_every_module_imports_on_its_own() -> None:
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('phoenix')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {exc!r}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *_modules()],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_core_loads_no_grpc_and_no_generated_code_at_run_time() -> None:
    script = (
        "import sys, importlib, pkgutil, phoenixd.core as core\n"
        "for m in pkgutil.iter_modules(core.__path__):\n"
        "    importlib.import_module(f'phoenixd.core.{m.name}')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('grpc', 'google')"
        " or m.startswith('phoenixflight_api.v1')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
