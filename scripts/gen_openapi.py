"""Generate the OpenAPI document of the REST routes (phoenixd/http/openapi.json) from proto/.

The routes and schemas come from the generated descriptors (phoenixd/http/openapi.py, the
same bindings the daemon routes by); the descriptions from the protos' comments, which protoc
reads here with their source info. The daemon serves the committed file at
GET /v1/openapi.json.

Usage:
    python scripts/gen_openapi.py          # regenerate in place
    python scripts/gen_openapi.py --check  # fail if the committed document drifted
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

from phoenixd.http.openapi import document
from phoenixd.server.grpc_server import SERVICE_DESCRIPTORS

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "phoenixd" / "http" / "openapi.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_protos import PROTO_ROOT, googleapis_root  # noqa: E402 - a sibling script


def comments() -> dict[str, str]:
    """Each service, method, message and field's leading comment, by full name."""
    import grpc_tools  # imported late: only the generators need it

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        result = subprocess.run([
            sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}",
            f"-I{googleapis_root()}", f"-I{Path(grpc_tools.__file__).parent / '_proto'}",
            "--include_source_info", f"--descriptor_set_out={out}", *protos,
        ], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"protoc failed:\n{result.stdout}{result.stderr}")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    found: dict[str, str] = {}
    for file in files:
        names = _names(file)
        for location in file.source_code_info.location:
            name = names.get(tuple(location.path))
            text = " ".join(line.strip() for line in location.leading_comments.splitlines())
            if name and text.strip():
                found[name] = text.strip()
    return found


def _names(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    """Source-info paths (FileDescriptorProto field numbers and indexes) to full names."""
    package = file.package
    names: dict[tuple[int, ...], str] = {}

    def message(proto: descriptor_pb2.DescriptorProto, path: tuple[int, ...],
                scope: str) -> None:
        full = f"{scope}.{proto.name}"
        names[path] = full
        for i, field in enumerate(proto.field):
            names[(*path, 2, i)] = f"{full}.{field.name}"
        for i, nested in enumerate(proto.nested_type):
            message(nested, (*path, 3, i), full)

    for i, proto in enumerate(file.message_type):
        message(proto, (4, i), package)
    for i, service in enumerate(file.service):
        names[(6, i)] = f"{package}.{service.name}"
        for j, method in enumerate(service.method):
            names[(6, i, 2, j)] = f"{package}.{service.name}.{method.name}"
    return names


def render() -> str:
    return json.dumps(document(SERVICE_DESCRIPTORS, comments()), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift")
    args = parser.parse_args(argv)
    made = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != made:
            print(f"{TARGET.relative_to(ROOT)} drifted from proto/; run `make gen` and commit "
                  "the result", file=sys.stderr)
            return 1
        print("the OpenAPI document matches proto/")
        return 0
    TARGET.write_text(made)
    print(f"generated {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
