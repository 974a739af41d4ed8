"""The CLI's one output module: table, wide, name, custom-columns, jsonpath, yaml, --sort-by,
--no-headers, yes/no for booleans, and colour only when asked for (a terminal, no NO_COLOR)."""

from __future__ import annotations

import argparse
import io

import pytest
import yaml

from phoenixd.cli.member_commands import MEMBER
from phoenixd.cli.output import Format, Printer, colour_wanted, field_path, parse_format
from phoenixflight_api.v1 import member_pb2 as mem

MEMBERS = [
    mem.Member(member_id="b", status=mem.MEMBER_STATUS_SUSPECT, trust_score=0.4,
               capabilities=["ocr@2", "nlp"], labels={"region": "eu"}),
    mem.Member(member_id="a", status=mem.MEMBER_STATUS_ACTIVE, trust_score=0.9,
               session_open=True),
]


def printed(output: str, *, sort_by: str | None = None, no_headers: bool = False,
            colour: bool = False) -> str:
    out = io.StringIO()
    Printer(parse_format(output), no_headers=no_headers, sort_by=sort_by, colour=colour,
            out=out).many(MEMBER, MEMBERS)
    return out.getvalue()


def test_tables_show_short_statuses_and_wide_adds_columns() -> None:
    table = printed("table").splitlines()
    assert table[0].split() == ["ID", "KIND", "STATUS", "CAPABILITIES", "TRUST", "PACKETS",
                                "LABELS"]
    assert table[1].split()[:3] == ["b", "unspecified", "SUSPECT"]
    wide = printed("wide").splitlines()
    assert "SESSION" in wide[0] and "RELIABILITY" in wide[0]
    assert "yes" in wide[2].split() and "True" not in printed("wide")


def test_name_custom_columns_and_sort_by() -> None:
    assert printed("name") == "member/b\nmember/a\n"
    columns = printed("custom-columns=ID:.member_id,STATUS:.status,CAP:.capabilities[0],"
                      "REGION:.labels.region", sort_by=".trust_score").splitlines()
    assert [line.split() for line in columns] == [
        ["ID", "STATUS", "CAP", "REGION"], ["b", "SUSPECT", "ocr@2", "eu"],
        ["a", "ACTIVE", "<none>", "<none>"]]
    assert printed("name", sort_by=".member_id") == "member/a\nmember/b\n"
    assert printed("table", no_headers=True).splitlines()[0].startswith("b ")


def test_jsonpath_and_yaml_print_the_proto_json() -> None:
    assert printed("jsonpath={[*].member_id}") == "b a"
    assert printed(r"jsonpath={[0].status}\n") == "MEMBER_STATUS_SUSPECT\n"
    data = yaml.safe_load(printed("yaml"))
    assert [m["member_id"] for m in data] == ["b", "a"]
    assert data[1]["session_open"] is True


def test_colour_marks_statuses_only_when_on() -> None:
    assert "\x1b[" not in printed("table")
    coloured = printed("table", colour=True)
    assert "\x1b[33mSUSPECT\x1b[0m" in coloured
    plain = [line.replace("\x1b[33m", "").replace("\x1b[32m", "").replace("\x1b[0m", "")
             for line in coloured.splitlines()]
    assert plain == printed("table").splitlines()  # colour leaves the columns aligned


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_wanted_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_wanted(Terminal()) and not colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(Terminal())


@pytest.mark.parametrize(
    ("text", "needle"),
    [("xml", "not an output format"), ("custom-columns=ID", "is not HEADER:PATH"),
     ("custom-columns=ID:member_id..x", "cannot read"), ("jsonpath={.a", "unbalanced"),
     ("jsonpath=", "needs a template")],
)
def test_a_bad_format_is_a_flag_error(text: str, needle: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=needle):
        parse_format(text)


def test_field_paths_read_nested_lists_and_missing_values() -> None:
    data = {"a": [{"b": 1}, {"b": 2}], "c": {"d": "x"}}
    assert field_path(".a[*].b")(data) == [1, 2]
    assert field_path("a[1].b")(data) == [2]
    assert field_path("$.c.d")(data) == ["x"]
    assert field_path(".a[5].b")(data) == [] and field_path(".nope")(data) == []
    assert Format("table") == parse_format("table")
