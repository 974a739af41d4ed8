"""Generate the API code from proto/ (the only way it is ever made).

Python goes to ``api/python/phoenixflight_api/v1/``, the API contract package that
both the daemon and the SDK import; TypeScript to ``clients/typescript/src/gen/``.
Nothing there is edited by hand.

The protos import ``google/api/annotations.proto`` (the REST routes of each RPC). Its
.proto files come from the pinned ``googleapis-common-protos`` package (which also ships
their _pb2 modules that the generated code imports), so protoc and buf read them from the
installed package, never from a copy in this repository.

Usage:
    python scripts/gen_protos.py          # regenerate in place
    python scripts/gen_protos.py --check  # fail if the committed code drifted
    python scripts/gen_protos.py --lint   # buf lint proto/ (make proto-lint)
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT_ROOT = ROOT / "api" / "python"
PACKAGE_DIR = Path("phoenixflight_api") / "v1"
# Where protoc writes (the protos' own path) and the Python package that holds it.
PROTO_PACKAGE = Path("phoenixflight") / "v1"
# protoc names the generated modules after the protos' path (phoenixflight.v1.*_pb2);
# they live in the contract package, so their module references are renamed. Only module
# names (ending in _pb2) are: the proto package and the descriptors keep their names.
_MODULE_REF = re.compile(r"\bphoenixflight\.v1\.(?=\w+_pb2\b)|^(from|import) phoenixflight\.v1\b",
                         re.MULTILINE)
TS_ROOT = ROOT / "clients" / "typescript"
TS_OUT = Path("src") / "gen"
BUF = ROOT / "node_modules" / ".bin" / "buf"
# The generators are pinned (pyproject dev extra) so that every machine writes
# the same bytes; a different version is a drift by design.
TOOLS_VERSION = "1.85.1"
MYPY_PROTOBUF_VERSION = "5.1.0"
# The google/api protos the API imports (those it uses, and theirs).
GOOGLE_API_PROTOS = ("google/api/annotations.proto", "google/api/http.proto")

MARKER = '''"""phoenixflight_api.v1: generated protobuf and gRPC code. DO NOT EDIT.

Made by scripts/gen_protos.py from proto/phoenixflight/v1/ with grpcio-tools {version}
and mypy-protobuf {mypy_version}.
"""
'''


def googleapis_root() -> Path:
    """The directory holding ``google/api/*.proto``: the installed googleapis-common-protos."""
    from google.api import annotations_pb2  # imported late: only the generators need it

    root = Path(annotations_pb2.__file__).resolve().parent.parent.parent
    missing = [name for name in GOOGLE_API_PROTOS if not (root / name).is_file()]
    if missing:
        raise SystemExit(f"googleapis-common-protos ships no {', '.join(missing)} under {root}; "
                         "run `make venv` to install the pinned version")
    return root


def generate(out_root: Path) -> None:
    """Run protoc (from grpcio-tools) over every proto into ``out_root``."""
    import grpc_tools  # imported late: only the generator needs it

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    bindir = Path(sys.executable).parent  # mypy-protobuf's plugins sit beside this python
    args = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{googleapis_root()}",
        f"-I{include}",
        f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        # Typed stubs for messages and for the gRPC stubs/servicers, so that
        # mypy --strict checks every call the daemon, the CLI and the SDK make.
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    # Captured: the mypy plugin chatters on stderr even when all is well.
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"protoc failed:\n{result.stdout}{result.stderr}")
    package = out_root / PACKAGE_DIR
    package.mkdir(parents=True)
    for made in sorted((out_root / PROTO_PACKAGE).glob("*.py*")):
        (package / made.name).write_text(_MODULE_REF.sub(_rename, made.read_text()))
    shutil.rmtree(out_root / PROTO_PACKAGE.parts[0])
    marker = MARKER.format(version=TOOLS_VERSION, mypy_version=MYPY_PROTOBUF_VERSION)
    (package / "__init__.py").write_text(marker)


def _rename(found: re.Match[str]) -> str:
    if found.group(1):  # an import statement
        return f"{found.group(1)} phoenixflight_api.v1"
    return "phoenixflight_api.v1."


def buf_workspace(into: Path) -> Path:
    """A buf workspace in ``into``: proto/ as the repository has it, with the lint rules of
    buf.yaml, beside the google/api protos it imports as a module of their own. Returns it."""
    shutil.copytree(PROTO_ROOT, into / "proto")
    google = googleapis_root()
    for name in GOOGLE_API_PROTOS:
        (into / "googleapis" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(google / name, into / "googleapis" / name)
    config = (ROOT / "buf.yaml").read_text()
    (into / "buf.yaml").write_text(
        config.replace("  - path: proto\n", "  - path: proto\n  - path: googleapis\n", 1))
    return into


def generate_typescript(out_root: Path) -> None:
    """protoc-gen-es (pinned in clients/typescript/package.json) through buf, into out_root.

    The google/api files are generated too (include_imports in buf.gen.yaml): every
    generated file's descriptor names the files it imports, annotations.proto among them.
    """
    plugin = TS_ROOT / "node_modules" / ".bin" / "protoc-gen-es"
    if not plugin.exists() or not BUF.exists():
        raise SystemExit("the TypeScript generator is not installed; run `make venv` first")
    template = (TS_ROOT / "buf.gen.yaml").read_text().replace(
        "node_modules/.bin/protoc-gen-es", str(plugin)).replace("out: src/gen", f"out: {out_root}")
    with tempfile.TemporaryDirectory() as tmp:
        workspace = buf_workspace(Path(tmp))
        result = subprocess.run(
            [str(BUF), "generate", str(workspace), "--template", template,
             "--path", str(workspace / "proto" / PROTO_PACKAGE)],
            capture_output=True, text=True, check=False, cwd=TS_ROOT,
        )
    if result.returncode != 0:
        raise SystemExit(f"buf generate failed:\n{result.stdout}{result.stderr}")


def lint() -> int:
    """buf lint over proto/ (the google/api module is only read, never linted)."""
    if not BUF.exists():
        raise SystemExit("buf is not installed; run `make venv` first")
    with tempfile.TemporaryDirectory() as tmp:
        workspace = buf_workspace(Path(tmp))
        result = subprocess.run(
            [str(BUF), "lint", str(workspace / "proto")],
            capture_output=True, text=True, check=False,
        )
    # Report paths as the repository has them, not the workspace's copy.
    print((result.stdout + result.stderr).replace(f"{workspace}/", ""), end="")
    return result.returncode


def tree_drift(expected: Path, actual: Path) -> list[str]:
    """Files that differ between two generated trees (any depth)."""
    def files(root: Path) -> set[Path]:
        return {p.relative_to(root) for p in root.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}

    names = files(expected) | (files(actual) if actual.exists() else set())
    return [str(n) for n in sorted(names)
            if not ((expected / n).exists() and (actual / n).exists()
                    and filecmp.cmp(expected / n, actual / n, shallow=False))]


def check_version() -> None:
    from importlib.metadata import version

    pins = (("grpcio-tools", TOOLS_VERSION), ("mypy-protobuf", MYPY_PROTOBUF_VERSION))
    for package, pinned in pins:
        found = version(package)
        if found != pinned:
            raise SystemExit(
                f"{package} {found} is installed but {pinned} is pinned; "
                "run `make venv` to install the pinned tools"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift")
    parser.add_argument("--lint", action="store_true", help="only run buf lint over proto/")
    args = parser.parse_args(argv)
    if args.lint:
        return lint()
    check_version()
    target = OUT_ROOT / PACKAGE_DIR
    if not args.check:
        # Generate aside, then swap in: a failed run leaves the committed code alone.
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            generate_typescript(Path(tmp) / "ts")
            for old in target.glob("*_pb2*.py*"):
                old.unlink()
            for new in (Path(tmp) / PACKAGE_DIR).iterdir():
                shutil.copy2(new, target / new.name)
            shutil.rmtree(TS_ROOT / TS_OUT, ignore_errors=True)
            shutil.copytree(Path(tmp) / "ts", TS_ROOT / TS_OUT)
        print(f"generated {target.relative_to(ROOT)} and {(TS_ROOT / TS_OUT).relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        generate_typescript(Path(tmp) / "ts")
        differ = tree_drift(Path(tmp) / PACKAGE_DIR, target)
        differ += [f"typescript:{n}" for n in tree_drift(Path(tmp) / "ts", TS_ROOT / TS_OUT)]
    if differ:
        print(
            "generated code drifted from proto/: " + ", ".join(differ)
            + "\nrun `make gen` and commit the result",
            file=sys.stderr,
        )
        return 1
    print("generated code matches proto/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
