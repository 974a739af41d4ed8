"""Generate the Python API code from proto/ (the only way it is ever made).

The output goes to one marked place, ``clients/python/phoenixflight/v1/``,
which both the SDK and the daemon import. Nothing there is edited by hand.

Usage:
    python scripts/gen_protos.py          # regenerate in place
    python scripts/gen_protos.py --check  # fail if the committed code drifted
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT_ROOT = ROOT / "clients" / "python"
PACKAGE_DIR = Path("phoenixflight") / "v1"
# The generators are pinned (pyproject dev extra) so that every machine writes
# the same bytes; a different version is a drift by design.
TOOLS_VERSION = "1.85.1"
MYPY_PROTOBUF_VERSION = "5.1.0"

MARKER = '''"""phoenixflight.v1: generated protobuf and gRPC code. DO NOT EDIT.

Made by scripts/gen_protos.py from proto/phoenixflight/v1/ with grpcio-tools {version}
and mypy-protobuf {mypy_version}.
"""
'''


def generate(out_root: Path) -> None:
    """Run protoc (from grpcio-tools) over every proto into ``out_root``."""
    import grpc_tools  # imported late: only the generator needs it

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    bindir = Path(sys.executable).parent  # mypy-protobuf's plugins sit beside this python
    args = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
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
    marker = MARKER.format(version=TOOLS_VERSION, mypy_version=MYPY_PROTOBUF_VERSION)
    (package / "__init__.py").write_text(marker)
    (package.parent / "__init__.py").touch(exist_ok=True)


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


def drift(expected: Path, actual: Path) -> list[str]:
    """Names of generated files that differ between two trees."""
    names = {p.name for p in expected.iterdir() if p.is_file()}
    names |= {p.name for p in actual.iterdir() if p.is_file()} if actual.exists() else set()
    differ = []
    for name in sorted(names):
        a, b = expected / name, actual / name
        if not (a.exists() and b.exists() and filecmp.cmp(a, b, shallow=False)):
            differ.append(name)
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift")
    args = parser.parse_args(argv)
    check_version()
    target = OUT_ROOT / PACKAGE_DIR
    if not args.check:
        # Generate aside, then swap in: a failed run leaves the committed code alone.
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            for old in target.glob("*_pb2*.py*"):
                old.unlink()
            for new in (Path(tmp) / PACKAGE_DIR).iterdir():
                shutil.copy2(new, target / new.name)
        print(f"generated {target.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        differ = drift(Path(tmp) / PACKAGE_DIR, target)
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
