"""Read a PhoenixFile: YAML, checked against schema.json, every problem at its line.

The YAML is composed into nodes (``yaml.compose``), which keep their marks, and turned into
JSON data here rather than by PyYAML's constructor: keys must be strings and appear once,
timestamps stay the strings they were written as, and aliases may not expand the document
past MAX_NODES (a few lines must not become a billion). Problems are reported as
``PhoenixFile:14: packets[0].policy: no policy "strict" in namespace "billing"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml

from phoenixd.bundles import schema
from phoenixd.bundles.model import (
    DEFAULT_NAMESPACE,
    Agent,
    Contract,
    Item,
    Namespace,
    Packet,
    Policy,
    field_problems,
    from_json,
)
from phoenixd.bundles.schema import MAX_PROBLEMS, Path, format_path

__all__ = ["MAX_BYTES", "MAX_NODES", "Dependency", "PhoenixFile", "PhoenixFileError",
           "load_phoenixfile", "parse_phoenixfile"]

# A PhoenixFile declares a few hundred objects; 16 MiB and a million nodes are far past
# any real one and still cheap to refuse.
MAX_BYTES = 16 * 1024 * 1024
MAX_NODES = 1_000_000
# PhoenixFile list -> the kind of record its items are.
SECTIONS = {"agents": "agent", "policies": "policy", "packets": "packet",
            "contracts": "contract"}
_SCALARS = yaml.SafeLoader("")  # only its construct_yaml_* methods are used


class PhoenixFileError(ValueError):
    """A PhoenixFile that cannot be built; ``problems`` are ``FILE:LINE: field: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        shown = list(self.problems[:MAX_PROBLEMS])
        if len(self.problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(self.problems) - MAX_PROBLEMS} more")
        super().__init__("\n".join(shown))


@dataclass(frozen=True, slots=True)
class Dependency:
    """Another bundle this one needs: a .pflight path, or NAME-VERSION.pflight in a
    directory (both relative to the PhoenixFile), optionally pinned to its bundle id."""

    name: str
    version: str
    path: str = ""
    directory: str = ""
    sha256: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def location(self, base: FilePath) -> FilePath:
        if self.path:
            return base / self.path
        return base / self.directory / f"{self.name}-{self.version}.pflight"


@dataclass(frozen=True)
class PhoenixFile:
    """A PhoenixFile read and checked: the bundle's records, and where each came from."""

    name: str  # as shown in messages: the path it was read from
    sha256: str  # of its bytes
    bundle_name: str
    version: str
    annotations: Mapping[str, str]
    namespaces: tuple[Namespace, ...]
    agents: tuple[Agent, ...]
    policies: tuple[Policy, ...]
    contracts: tuple[Contract, ...]
    packets: tuple[Packet, ...]
    dependencies: tuple[Dependency, ...]
    base: FilePath = FilePath(".")  # the directory dependency paths are relative to
    # bundle file path -> where its record is written (("packets", 0)), and the nodes.
    origins: Mapping[str, Path] = field(default_factory=dict, repr=False)
    root: yaml.Node | None = field(default=None, repr=False)

    def line(self, path: Path) -> int:
        """The line of the deepest field on ``path`` that exists (1-based): a mapping
        field's key, a list item's first line."""
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for step in path:
            found = _child(node, step)
            if found is None:
                break
            mark, node = found
            line = mark.line + 1
        return line

    def where(self, file: str, field_path: Path) -> str:
        """``PhoenixFile:14: packets[0].policy`` for a field of the record in ``file``."""
        path = (*self.origins.get(file, ()), *field_path)
        return f"{self.name}:{self.line(path)}: {format_path(path)}"


def _child(node: yaml.Node, step: str | int) -> tuple[yaml.Mark, yaml.Node] | None:
    """The node at ``step`` under ``node``, and the mark of where it is written."""
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        for key, value in node.value:
            if key.value == step:
                return key.start_mark, value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item: yaml.Node = node.value[step]
        return item.start_mark, item
    return None


def load_phoenixfile(path: FilePath) -> PhoenixFile:
    """Read and check the PhoenixFile at ``path`` (OSError if it cannot be read)."""
    with path.open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    return parse_phoenixfile(data, name=str(path), base=path.parent)


def parse_phoenixfile(data: bytes, name: str = "PhoenixFile",
                      base: FilePath = FilePath(".")) -> PhoenixFile:
    """Check a PhoenixFile's bytes.

    Raises:
        PhoenixFileError: every problem found, each at its line.
    """
    if len(data) > MAX_BYTES:
        raise PhoenixFileError([f"{name}: larger than {MAX_BYTES // 2**20} MiB"])
    try:
        text = data.decode("utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise PhoenixFileError([f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
                               ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise PhoenixFileError([f"{name}:{line}: not valid YAML: {exc.problem or exc}"]
                               ) from None
    except yaml.YAMLError as exc:
        raise PhoenixFileError([f"{name}: not valid YAML: {exc}"]) from None
    if root is None:
        raise PhoenixFileError([f"{name}:1: the file is empty: it needs apiVersion and bundle"])
    located = PhoenixFile(name, hashlib.sha256(data).hexdigest(), "", "", {}, (), (), (), (),
                          (), (), base, {}, root)
    value = _Converter(located).value(root)
    found = schema.problems(value)
    if not found:
        found = [p.within((section, i)) for section, kind in SECTIONS.items()
                 for i, raw in enumerate(value.get(section, ()))
                 for p in field_problems(kind, raw)]
    if found:
        raise PhoenixFileError([f"{located.name}:{located.line(p.path)}: "
                                f"{format_path(p.path) or '(top)'}: {p.message}" for p in found])
    return _records(located, value)


def _records(located: PhoenixFile, value: Mapping[str, Any]) -> PhoenixFile:
    """The records of a schema-valid PhoenixFile, each with where it was written."""
    origins: dict[str, Path] = {}
    records: dict[str, list[Item]] = {section: [] for section in SECTIONS}
    twice = []
    for section, kind in SECTIONS.items():
        for i, raw in enumerate(value.get(section, ())):
            item = from_json(kind, raw)
            records[section].append(item)
            if item.file in origins:
                first = located.line(origins[item.file])
                key_field = {"agent": "id", "policy": "name", "packet": "packet_id",
                             "contract": "workload_type"}[kind]
                path = (section, i, key_field)
                twice.append(f"{located.name}:{located.line(path)}: {format_path(path)}: "
                             f"{kind} {item.key!r} is declared twice in namespace "
                             f"{item.namespace!r} (first at line {first})")
            origins.setdefault(item.file, (section, i))
    names = [n["name"] for n in value.get("namespaces", ())]
    for i, ns in enumerate(names):
        if ns in names[:i]:
            path = ("namespaces", i, "name")
            twice.append(f"{located.name}:{located.line(path)}: {format_path(path)}: "
                         f"namespace {ns!r} is declared twice")
    if twice:
        raise PhoenixFileError(twice)
    bundle = value["bundle"]
    annotations = dict(bundle.get("annotations", {}))
    for key, annotation in (("description", "org.opencontainers.image.description"),
                            ("licenses", "org.opencontainers.image.licenses"),
                            ("source", "org.opencontainers.image.source")):
        if key in bundle:
            annotations[annotation] = bundle[key]
    declared = [Namespace(n["name"], n.get("description", ""))
                for n in value.get("namespaces", ())]
    if DEFAULT_NAMESPACE not in {n.name for n in declared}:
        declared.insert(0, Namespace(DEFAULT_NAMESPACE))
    return PhoenixFile(
        located.name, located.sha256, bundle["name"], bundle["version"], annotations,
        tuple(declared),
        tuple(r for r in records["agents"] if isinstance(r, Agent)),
        tuple(r for r in records["policies"] if isinstance(r, Policy)),
        tuple(r for r in records["contracts"] if isinstance(r, Contract)),
        tuple(r for r in records["packets"] if isinstance(r, Packet)),
        tuple(Dependency(d["name"], d["version"], d.get("path", ""), d.get("directory", ""),
                         d.get("sha256", "")) for d in value.get("dependencies", ())),
        located.base, origins, located.root)


class _Converter:
    """YAML nodes to JSON data, refusing what JSON cannot say or a PhoenixFile must not."""

    def __init__(self, located: PhoenixFile) -> None:
        self.located = located
        self.count = 0
        self.open: set[int] = set()  # nodes being converted: an alias to one is a cycle

    def fail(self, node: yaml.Node, message: str) -> PhoenixFileError:
        return PhoenixFileError([f"{self.located.name}:{node.start_mark.line + 1}: {message}"])

    def value(self, node: yaml.Node) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} values (do aliases expand it?)")
        if id(node) in self.open:
            raise self.fail(node, "an alias refers to a value that contains it")
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.value(item) for item in node.value]
            return self.mapping(node)
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.Node) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.value:
            if not (isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:str"):
                if key.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key, "merge keys (<<) are not supported: write the fields")
                raise self.fail(key, f"keys must be strings, not {key.value!r}")
            if key.value in out:
                raise self.fail(key, f"{key.value!r} appears twice in the same mapping")
            out[key.value] = self.value(value)
        return out

    def scalar(self, node: yaml.ScalarNode) -> Any:
        kind = node.tag.rsplit(":", 1)[-1]
        if kind in ("str", "timestamp"):  # a date stays the text written
            return node.value
        if kind == "int":
            return _SCALARS.construct_yaml_int(node)
        if kind == "float":
            return _SCALARS.construct_yaml_float(node)
        if kind == "bool":
            return _SCALARS.construct_yaml_bool(node)
        if kind == "null":
            return None
        raise self.fail(node, f"{node.tag} values are not supported in a PhoenixFile")
