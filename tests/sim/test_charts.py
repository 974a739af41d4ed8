"""The charts as PNGs: every one of them, at a fixed size, with nothing in them that changes
between runs (the same bytes in another process, under another hash seed and a user's own
matplotlibrc), drawn in matplotlib's bundled font; and a clear error without matplotlib."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from phoenixd.core.packets import Strategy
from phoenixd.sim import Scenario, charts, compare, simulate

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"
TINY = Scenario(preset="zone-outage", members=6, packets=30, steps=5)
DIGESTS = """
import hashlib, json
from phoenixd.sim import Scenario, simulate
from phoenixd.sim.charts import render
pictures = render([simulate(Scenario(preset="zone-outage", members=6, packets=30, steps=5))])
print(json.dumps({n: hashlib.sha256(b).hexdigest() for n, b in pictures.items()}))
"""


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    chunks, at = [], len(PNG)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        chunks.append((png[at + 4:at + 8], png[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


@pytest.fixture(scope="module")
def pictures() -> dict[str, bytes]:
    return charts.render([simulate(TINY)])


def test_every_chart_is_a_png_of_its_fixed_size(pictures: dict[str, bytes]) -> None:
    assert tuple(pictures) == charts.CHARTS
    for name, png in pictures.items():
        assert png.startswith(PNG), name
        chunks = _chunks(png)
        assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
        width, height = struct.unpack(">II", chunks[0][1][:8])
        size = charts.RING_SIZE if name == "ring" else charts.SIZE
        assert (width, height) == (size[0] * charts.DPI, size[1] * charts.DPI), name
        # No text chunk at all: no Software entry, no date.
        assert not [k for k, _ in chunks if k in (b"tEXt", b"iTXt", b"zTXt", b"tIME")], name


def test_the_same_run_draws_the_same_bytes(pictures: dict[str, bytes], tmp_path: Path) -> None:
    assert charts.render([simulate(TINY)]) == pictures
    # Another process, another hash seed, and a user's matplotlibrc that would change
    # everything it could: the charts keep their own style.
    (tmp_path / "matplotlibrc").write_text(
        "font.size: 20\nlines.linewidth: 6\naxes.prop_cycle: cycler('color', ['k'])\n"
        "figure.dpi: 300\nsavefig.dpi: 50\naxes.grid: False\n")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "MPLCONFIGDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", DIGESTS], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    assert json.loads(out) == {n: hashlib.sha256(b).hexdigest() for n, b in pictures.items()}


def test_strategies_share_the_axes(pictures: dict[str, bytes]) -> None:
    comparison = compare(TINY, [Strategy.RING, Strategy.BINPACK_SPREAD, Strategy.TRUST])
    drawn = charts.render(comparison.results)
    assert tuple(drawn) == charts.CHARTS
    assert drawn["efficiency"] != pictures["efficiency"]  # three lines, not one
    # The ring is the final membership's, the same in each run of one plan.
    assert {r.members for r in comparison.results} == {comparison.results[0].members}


def test_text_is_drawn_in_matplotlibs_bundled_font() -> None:
    import matplotlib
    from matplotlib import font_manager

    with charts._style():
        path = font_manager.findfont(font_manager.FontProperties())
    assert Path(path).is_relative_to(matplotlib.get_data_path()), path
    assert Path(path).name == "DejaVuSans.ttf"


def test_without_matplotlib_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises
    with pytest.raises(charts.ChartsUnavailable, match=r"pip install 'phoenixd\[plots\]'"):
        charts.require()
    with pytest.raises(charts.ChartsUnavailable):
        charts.render([])


def test_a_large_fleet_is_drawn_within_bounds() -> None:
    # Past MAX_ARCS vnodes the ring is sampled, and past LABELLED_MEMBERS the bars are not
    # named one by one: the charts still come out, at their sizes.
    result = simulate(Scenario(members=70, packets=140, steps=2))
    drawn = charts.render([result])
    assert all(png.startswith(PNG) for png in drawn.values())


def test_the_readme_shows_the_committed_charts() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\((docs/sim/[\w/-]+\.png)\)", readme))
    committed = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "sim").rglob("*.png")}
    assert linked and linked <= committed
    # Every committed chart is one `make charts` draws: a full set per run it makes.
    makefile = (ROOT / "Makefile").read_text()
    runs = re.findall(r"--charts (docs/sim/[\w-]+)", makefile)
    assert committed == {f"{run}/{name}.png" for run in runs for name in charts.CHARTS}
