"""How every phoenix command prints, in one place: ``-o``, ``--no-headers``, ``--sort-by``.

Formats (kubectl's names): ``table`` (default), ``wide`` (more columns), ``json`` and
``yaml`` (the API's proto JSON, snake_case field names), ``name`` (``member/agent-a``),
``custom-columns=HEADER:PATH,...`` and ``jsonpath=TEMPLATE``. PATH and ``--sort-by`` are
field paths into what ``-o json`` prints for one item (``.load.assigned_packets``,
``.capabilities[0]``, ``.labels.region``), custom columns showing enums by their short
names as tables do (``.status`` is ACTIVE); a jsonpath template applies to the whole document
``-o json`` prints, a list for list commands (``{[*].member_id}``). Tables show statuses by
their short upper-case names (ACTIVE, PENDING) and booleans as yes/no; colour only on a
terminal and never when NO_COLOR is set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from phoenixflight.names import enum_prefix

__all__ = [
    "FORMAT_HELP", "Column", "Format", "Kind", "Printer", "Progress", "StreamTable", "as_dict",
    "enum_name", "field_path", "json_line", "parse_format", "readable_dict", "when", "yes_no",
]

PLAIN_FORMATS = ("table", "wide", "json", "yaml", "name", "csv")
TEMPLATE_FORMATS = ("custom-columns", "jsonpath")
FORMAT_HELP = ("table (default), wide, json, yaml, name, custom-columns=HEADER:.path,..., "
               "jsonpath=TEMPLATE, or csv (simulate)")
MISSING = "<none>"  # a custom column whose path is absent, as kubectl prints it

# ANSI SGR codes per status: settled-and-well green, in flight yellow, gone wrong red,
# finished-and-gone dim.
_STATUS_COLOURS = {
    "ACTIVE": "32", "COMPLETED": "32",
    "SUSPECT": "33", "DRAINING": "33", "PENDING": "33", "ASSIGNED": "36", "RUNNING": "36",
    "FAILED": "31", "CANCELLED": "31",
    "RETIRED": "2",
}


@dataclass(frozen=True, slots=True)
class Format:
    """A parsed ``-o`` value: the format's name, and its template for the two that take one."""

    name: str
    template: str = ""


def parse_format(text: str) -> Format:
    """``-o``'s type: one of the plain names, or ``custom-columns=...`` / ``jsonpath=...``;
    a malformed template is refused here, as a flag error, before any call is made."""
    if text in PLAIN_FORMATS:
        return Format(text)
    name, sep, template = text.partition("=")
    if name in TEMPLATE_FORMATS and sep:
        try:
            _custom_columns(template) if name == "custom-columns" else _jsonpath(template)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return Format(name, template)
    raise argparse.ArgumentTypeError(f"{text!r} is not an output format: use {FORMAT_HELP}")


def as_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data, with the proto's snake_case field names."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def readable_dict(message: Message) -> dict[str, Any]:
    """as_dict, with enum values by the short names tables use (MEMBER_STATUS_ACTIVE ->
    ACTIVE), for the columns a person reads (custom-columns); -o json keeps the proto's."""
    data = as_dict(message)
    _shorten(message.DESCRIPTOR, data)
    return data


def _shorten(descriptor: Any, data: dict[str, Any]) -> None:
    for f in descriptor.fields:
        if f.name not in data:
            continue
        value = data[f.name]
        if f.enum_type is not None:
            prefix = enum_prefix(f.enum_type)
            data[f.name] = ([v.removeprefix(prefix) for v in value] if isinstance(value, list)
                            else value.removeprefix(prefix))
        elif (f.message_type is not None and not f.message_type.GetOptions().map_entry
              and f.message_type.file.package == descriptor.file.package):
            for item in value if isinstance(value, list) else [value]:
                _shorten(f.message_type, item)


def json_line(data: Any) -> str:
    """One compact JSON document per line, for streams (``watch``, ``audit tail -f``)."""
    return json.dumps(data, separators=(",", ":"))


def enum_name(value: str, prefix: str) -> str:
    """MEMBER_STATUS_ACTIVE -> ACTIVE."""
    return value.removeprefix(prefix)


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def when(ts: Timestamp) -> str:
    if ts.seconds == 0 and ts.nanos == 0:
        return "-"
    moment = dt.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


# -- field paths ----------------------------------------------------------------------

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+|\*)\]")
_ANY = object()  # the [*] step


def _steps(path: str) -> list[str | int | object]:
    text = path.strip()
    text = text.removeprefix("$")
    if text and text[0] not in ".[":
        text = "." + text
    steps: list[str | int | object] = []
    at = 0
    while at < len(text):
        match = _STEP.match(text, at)
        if match is None:
            raise ValueError(f"field path {path!r}: cannot read {text[at:]!r} "
                             "(use .name, [N] or [*] steps, e.g. .load.assigned_packets)")
        name, index = match.groups()
        steps.append(name if name is not None else (_ANY if index == "*" else int(index)))
        at = match.end()
    return steps


def field_path(path: str) -> Callable[[Any], list[Any]]:
    """A reader for ``path`` over JSON data: every value it names ([*] may name several);
    an empty list when the path leads nowhere. Checked now, so a typo is a flag error."""
    steps = _steps(path)

    def read(data: Any) -> list[Any]:
        values = [data]
        for step in steps:
            found: list[Any] = []
            for value in values:
                if step is _ANY and isinstance(value, list):
                    found.extend(value)
                elif _has(value, step):
                    found.append(value[step])
            values = found
        return values

    return read


def _has(value: Any, step: object) -> bool:
    """Does one step lead on from ``value``: an index in range, or a key present?"""
    if isinstance(step, int):
        return isinstance(value, list) and step < len(value)
    return isinstance(step, str) and isinstance(value, dict) and step in value


def _text(value: Any) -> str:
    """A JSON value as a cell: strings bare, lists comma-joined, objects as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json_line(value)
    return str(value)


def _custom_columns(template: str) -> list[tuple[str, Callable[[Any], list[Any]]]]:
    columns = []
    if not template:
        raise ValueError("-o custom-columns= needs HEADER:PATH,... after the '='")
    for spec in template.split(","):
        header, sep, path = spec.partition(":")
        if not (header and sep and path):
            raise ValueError(f"-o custom-columns: {spec!r} is not HEADER:PATH "
                             "(e.g. custom-columns=ID:.member_id,STATUS:.status)")
        columns.append((header, field_path(path)))
    return columns


_EXPRESSION = re.compile(r"\{([^{}]*)\}")


def _jsonpath(template: str) -> list[str | Callable[[Any], list[Any]]]:
    """kubectl's jsonpath, the part most used: literal text, ``{PATH}`` expressions whose
    values are printed space-separated, and \\n and \\t escapes in the text."""
    if not template:
        raise ValueError("-o jsonpath= needs a template after the '=', e.g. '{[*].member_id}'")
    parts: list[str | Callable[[Any], list[Any]]] = []
    at = 0
    for match in _EXPRESSION.finditer(template):
        parts.append(template[at:match.start()])
        parts.append(field_path(match.group(1)))
        at = match.end()
    rest = template[at:]
    if "{" in rest or "}" in rest:
        raise ValueError(f"-o jsonpath: unbalanced braces in {template!r}")
    parts.append(rest)
    return [p.replace("\\n", "\n").replace("\\t", "\t") if isinstance(p, str) else p
            for p in parts if p != ""]


def _sort_key(value: list[Any]) -> tuple[int, float, str]:
    """Missing values last; numbers (int64s arrive as JSON strings) by value, others as text."""
    if not value:
        return (2, 0.0, "")
    text = _text(value[0])
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


# -- what a command prints ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: its header and how to read its cell from a message."""

    header: str
    value: Callable[[Any], object]
    wide: bool = False  # only with -o wide
    status: bool = False  # coloured by status name on a terminal


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of thing commands list and show: its name for ``-o name``, its id, its columns."""

    name: str
    id: Callable[[Any], str]
    columns: Sequence[Column]


def colour_wanted(stream: TextIO) -> bool:
    """Colour only for a person at a terminal, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


@dataclass
class Printer:
    """The output flags of one invocation, applied the same way by every command."""

    format: Format = field(default_factory=lambda: Format("table"))
    no_headers: bool = False
    sort_by: str | None = None
    colour: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)

    @property
    def human(self) -> bool:
        """Table or wide: a command may print its own human layout."""
        return self.format.name in ("table", "wide")

    def many(self, kind: Kind, items: Sequence[Message]) -> None:
        """Print many of one kind, in the chosen format."""
        data = [readable_dict(item) if self.format.name == "custom-columns" else as_dict(item)
                for item in items]
        if self.sort_by:
            read = field_path(self.sort_by)
            order = sorted(range(len(items)), key=lambda i: _sort_key(read(data[i])))
            items, data = [items[i] for i in order], [data[i] for i in order]
        if self.format.name == "name":
            for item in items:
                self.write(f"{kind.name}/{kind.id(item)}")
        elif self.format.name == "custom-columns":
            custom = _custom_columns(self.format.template)
            self.table([h for h, _ in custom],
                       [[_text(read(d)) if read(d) else MISSING for _, read in custom]
                        for d in data])
        elif self.human:
            columns = self.columns(kind)
            self.table([c.header for c in columns],
                       [[c.value(item) for c in columns] for item in items],
                       status_at=[i for i, c in enumerate(columns) if c.status])
        else:
            self.data(data)

    def one(self, kind: Kind, item: Message,
            details: Sequence[tuple[str, object]] = ()) -> None:
        """Print one thing: as a one-row table with ``key: value`` details under it, or in the
        chosen format (a single document, not a list of one)."""
        if self.human:
            self.many(kind, [item])
            if details:
                self.details(details)
        elif self.format.name in ("name", "custom-columns"):
            self.many(kind, [item])
        else:
            self.data(as_dict(item))

    def data(self, value: Any) -> None:
        """Print JSON-ready data as json, yaml or through a jsonpath template; a table or
        wide format gets JSON (for results with no table of their own)."""
        name = self.format.name
        if name == "yaml":
            self.out.write(yaml.safe_dump(value, sort_keys=False, default_flow_style=False))
        elif name == "jsonpath":
            self.write(self.jsonpath(value), end="")
        elif name in ("name", "custom-columns"):
            raise ValueError(f"-o {name} applies to lists of members, packets, events or "
                             "capabilities; use -o json, yaml or jsonpath here")
        elif name == "csv":
            raise ValueError("-o csv applies to phoenix simulate; use -o json, yaml or "
                             "jsonpath here")
        else:
            json.dump(value, self.out, indent=2, sort_keys=False)
            self.out.write("\n")

    def jsonpath(self, value: Any) -> str:
        return "".join(
            part if isinstance(part, str) else " ".join(_text(v) for v in part(value))
            for part in _jsonpath(self.format.template))

    def columns(self, kind: Kind) -> list[Column]:
        return [c for c in kind.columns if self.format.name == "wide" or not c.wide]

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]],
              status_at: Sequence[int] = ()) -> None:
        """Columns padded to their widest cell, like kubectl's."""
        cells = [[_cell(c) for c in row] for row in rows]
        widths = [max([len(h)] + [len(row[i]) for row in cells])
                  for i, h in enumerate(headers)]
        if not self.no_headers:
            self.write(self.line(list(headers), widths))
        for row in cells:
            self.write(self.line(row, widths, status_at))

    def line(self, cells: Sequence[str], widths: Sequence[int],
             status_at: Sequence[int] = ()) -> str:
        """One table row, padded to ``widths``; status cells coloured when colour is on."""
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
        if self.colour:
            for i in status_at:
                code = _STATUS_COLOURS.get(cells[i])
                if code:
                    padded[i] = f"\x1b[{code}m{cells[i]}\x1b[0m" + padded[i][len(cells[i]):]
        return "  ".join(padded).rstrip()

    def details(self, details: Sequence[tuple[str, object]]) -> None:
        """``key: value`` lines under a table, values aligned one space past the longest key."""
        width = max(len(key) for key, _ in details) + 2
        self.write("")
        for key, value in details:
            self.write(f"{key + ':':<{width}}{_cell(value)}")

    def write(self, text: str, end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()


def _cell(value: object) -> str:
    """A table cell: booleans as yes/no (never Python's True/False)."""
    if isinstance(value, bool):
        return yes_no(value)
    return str(value)


class Progress:
    """One line of progress on stderr: rewritten in place on a terminal, a new line per
    change otherwise (so that a log keeps every step and no escape codes)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.last = ""

    def show(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        self.stream.write(f"\r{text}\x1b[K" if self.live else f"{text}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.live and self.last:
            self.stream.write("\n")
            self.stream.flush()


class StreamTable:
    """A table whose rows keep coming (``watch``): the widths of the first rows hold for the
    rest, so that a follower's columns line up as kubectl's ``get -w`` does."""

    def __init__(self, printer: Printer, headers: Sequence[str], status_at: Sequence[int] = ()):
        self.printer = printer
        self.headers = list(headers)
        self.status_at = status_at
        self.widths = [len(h) for h in headers]

    def start(self, rows: Sequence[Sequence[object]]) -> None:
        cells = [[_cell(c) for c in row] for row in rows]
        for row in cells:
            self.widths = [max(w, len(c)) for w, c in zip(self.widths, row, strict=True)]
        if not self.printer.no_headers:
            self.printer.write(self.printer.line(self.headers, self.widths))
        for row in cells:
            self.row(row)

    def row(self, row: Sequence[object]) -> None:
        self.printer.write(
            self.printer.line([_cell(c) for c in row], self.widths, self.status_at))
