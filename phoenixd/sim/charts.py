"""A run's charts as PNG bytes (matplotlib, the optional ``plots`` extra): the seed's three
(load balance efficiency, running churn rate, workload relocations, over the steps), the
ring of the final membership, and the final load of each member.

Given several runs of one plan (``compare``), each chart puts the strategies on the same
axes. The charts are reproducible byte for byte: a fixed size and dpi, matplotlib's default
style whatever the user's matplotlibrc says, its bundled DejaVu Sans, and no metadata that
changes between runs (the PNG's Software entry is dropped; SVG ids are salted by a constant).
Nothing is written here: the caller decides where the bytes go.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from phoenixd.sim.run import SimResult
from phoenixd.sim.series import MAX_ARCS, RingPicture, Series, ring_picture, series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.projections.polar import PolarAxes
    from matplotlib.typing import RcKeyType

__all__ = ["CHARTS", "EXTRA", "ChartsUnavailable", "render", "require"]

CHARTS = ("efficiency", "churn", "relocations", "ring", "loads")
EXTRA = "plots"
DPI = 100
SIZE = (8.0, 4.5)  # inches: 800 x 450 pixels
RING_SIZE = (8.0, 6.0)
# Member colours: tab20's twenty, then evenly spaced over a wide colour map.
NAMED_COLOURS = 20
# Load bars name each member below this many; past it the axis says how many there are.
LABELLED_MEMBERS = 40
# The legend of the ring lists this many members (the rest are summed in one line).
LEGEND_MEMBERS = 24
_RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.hashsalt": "phoenixflight",
    "axes.grid": True,
    "grid.alpha": 0.3,
}


class ChartsUnavailable(ValueError):
    """matplotlib is not installed: charts need the ``plots`` extra."""


def require() -> None:
    """Raise ChartsUnavailable, saying what to install, unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401 - only whether it imports
    except ImportError:
        raise ChartsUnavailable(
            f"charts need matplotlib, which phoenixd installs only with its '{EXTRA}' "
            f"extra: pip install 'phoenixd[{EXTRA}]' (in a checkout, make venv installs it)"
        ) from None


def render(results: Sequence[SimResult]) -> dict[str, bytes]:
    """Every chart of ``results`` (one run, or one plan through several strategies), by
    name (``CHARTS``), as PNG bytes."""
    require()
    if not results:
        raise ValueError("render needs at least one run")
    data = [series(r) for r in results]
    title = _title(results)
    with _style():
        return {
            "efficiency": _png(_efficiency(data, title)),
            "churn": _png(_churn(data, title)),
            "relocations": _png(_relocations(data, title)),
            "ring": _png(_ring(ring_picture(results[0]), title)),
            "loads": _png(_loads(data, title)),
        }


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context(_RC):
        yield


def _title(results: Sequence[SimResult]) -> str:
    s = results[0].scenario
    placement = (f"{results[0].strategy} placement" if len(results) == 1
                 else " vs ".join(r.strategy for r in results))
    return (f"{s.preset}, {s.mode} mode ({placement}): {s.members} members, "
            f"{s.packets} packets, seed {s.seed}")


def _figure(size: tuple[float, float] = SIZE) -> Figure:
    # A Figure without pyplot: no global state, no GUI backend, the Agg canvas on save.
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=DPI, layout="constrained")


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _axes(figure: Figure, title: str, heading: str, ylabel: str) -> Axes:
    """The one pair of axes of a chart over the steps (whole steps on x)."""
    from matplotlib.ticker import MaxNLocator

    ax = figure.subplots()
    figure.suptitle(heading, fontsize=11)
    ax.set_title(title, fontsize=8, color="dimgray")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def _legend(ax: Axes, data: Sequence[Series]) -> None:
    if len(data) > 1:
        ax.legend(loc="best")


def _efficiency(data: Sequence[Series], title: str) -> Figure:
    figure = _figure()
    ax = _axes(figure, title, "Load balance efficiency",
                     "mean / max packets per ACTIVE member")
    for d in data:
        ax.plot(d.steps, d.efficiency, marker="o", markersize=3, label=d.strategy)
    ax.set_ylim(0.0, 1.05)
    _legend(ax, data)
    return figure


def _churn(data: Sequence[Series], title: str) -> Figure:
    figure = _figure()
    ax = _axes(figure, title, "Running churn rate",
                     "remappings per step (running mean)")
    if len(data) == 1:
        ax.bar(data[0].steps, data[0].remapped, color="lightsteelblue",
               label="remappings in the step")
    for d in data:
        ax.plot(d.steps, d.churn, marker="o", markersize=3,
                label=d.strategy if len(data) > 1 else "running mean")
    ax.set_ylim(bottom=0.0)
    ax.legend(loc="best")
    return figure


def _relocations(data: Sequence[Series], title: str) -> Figure:
    figure = _figure()
    ax = _axes(figure, title, "Workload relocations", "handoffs completed")
    width = 0.8 / len(data)
    for i, d in enumerate(data):
        name = f"{d.strategy}: " if len(data) > 1 else ""
        offset = (i - (len(data) - 1) / 2) * width
        ax.bar([s + offset for s in d.steps], d.relocations, width=width, color=f"C{i}",
               alpha=0.35, label=f"{name}in the step")
        ax.plot(d.steps, d.relocated, color=f"C{i}", marker="o", markersize=3,
                label=f"{name}running total")
    ax.set_ylim(bottom=0.0)
    ax.legend(loc="best")
    return figure


def _colour(index: int, count: int) -> Any:
    from matplotlib import colormaps

    if count <= NAMED_COLOURS:
        return colormaps["tab20"](index)
    return colormaps["turbo"](index / max(1, count - 1))


def _ring(picture: RingPicture, title: str) -> Figure:
    from matplotlib.patches import Patch

    figure = _figure(RING_SIZE)
    figure.suptitle("Consistent-hash ring of the final membership", fontsize=11)
    ax = cast("PolarAxes", figure.add_subplot(projection="polar"))
    ax.set_title(title, fontsize=8, color="dimgray")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)  # clockwise, as a key looks for its vnode
    ax.set_axis_off()
    n = len(picture.members)
    if not n:
        ax.text(0.0, 0.0, "no ACTIVE member", ha="center", va="center")
        return figure
    turn = 2 * math.pi / (1 << 32)
    colours = [_colour(m, n) for m in range(n)]
    ax.bar([a * turn for a, _, _ in picture.arcs], [1.0] * len(picture.arcs),
           width=[(b - a) * turn for a, b, _ in picture.arcs], bottom=2.0, align="edge",
           color=[colours[m] for _, _, m in picture.arcs], linewidth=0)
    if picture.sampled:  # too many tokens to tell apart: the sampled owners alone
        how = f"the owners of {MAX_ARCS} evenly spaced keys, clockwise from the top (0)"
    else:
        ax.vlines([t * turn for t in picture.tokens], 3.1, 3.4,
                  colors=[colours[m] for m in picture.owners], linewidth=0.4)
        how = ("each arc ends at its member's vnode token and holds the keys that go to it, "
               "clockwise from the top (0); outer ticks: the vnode tokens")
    ax.set_ylim(0.0, 3.5)
    ax.text(0.0, 0.0, f"{n} members\n{picture.vnodes} vnodes each", ha="center",
            va="center", fontsize=10)
    figure.supxlabel(f"inner ring: {how}", fontsize=7, color="dimgray")
    shares = picture.shares()
    handles = [Patch(color=colours[m], label=f"{picture.members[m]}  {shares[m]:.1%}")
               for m in range(min(n, LEGEND_MEMBERS))]
    if n > LEGEND_MEMBERS:
        rest = math.fsum(shares[LEGEND_MEMBERS:])
        handles.append(Patch(color="white", label=f"{n - LEGEND_MEMBERS} more  {rest:.1%}"))
    figure.legend(handles=handles, loc="outside right center", fontsize=7,
                  title="share of the keys", title_fontsize=8)
    return figure


def _loads(data: Sequence[Series], title: str) -> Figure:
    figure = _figure()
    ax = _axes(figure, title, "Packets per member at the end", "packets owned")
    ax.set_xlabel("ACTIVE member")
    # One slot per member ACTIVE at the end of any of the runs.
    members = sorted({m for d in data for m in d.members})
    index = {m: x for x, m in enumerate(members)}
    width = 0.8 / len(data)
    for i, d in enumerate(data):
        offset = (i - (len(data) - 1) / 2) * width
        ax.bar([index[m] + offset for m in d.members], d.loads, width=width, color=f"C{i}",
               label=d.strategy)
        if d.members:
            mean = sum(d.loads) / len(d.members)
            ax.axhline(mean, color=f"C{i}", linestyle="--", linewidth=0.8,
                       label=f"mean {mean:.1f}" if len(data) == 1 else None)
    if len(members) <= LABELLED_MEMBERS:
        ax.set_xticks(range(len(members)), members, rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(members)} ACTIVE members, in id order")
    ax.grid(False, axis="x")
    ax.legend(loc="best")
    return figure
