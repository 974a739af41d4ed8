"""A simulation's inputs, bounded, and the strict loader of scenario files (TOML or YAML).

A scenario is everything a run depends on: the same scenario gives the same run, byte for
byte. The bounds are here, not in the CLI, so that any caller (the CLI now, an RPC inside the
daemon later) gets a run of bounded size and time. A file is refused, naming the file, the
field and the reason, on any unknown field, wrong type or value out of range.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from phoenixd.core.packets import Strategy
from phoenixd.core.reliability import DEFAULT_HALF_LIFE, DEFAULT_PRIOR_WEIGHT

__all__ = [
    "ACTIONS",
    "MAX_MEMBERS",
    "MAX_PACKETS",
    "MAX_STEPS",
    "MAX_WORK",
    "MODES",
    "ChurnSpec",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_mapping",
]

MODES = ("ring", "binpack", "agentic")
# The strategy each mode places with unless the scenario names another.
MODE_STRATEGY = {"ring": Strategy.RING, "binpack": Strategy.BINPACK_SPREAD,
                 "agentic": Strategy.TRUST}
# Bounds on one run. A run's cost is about (members x virtual seconds / heartbeat interval)
# heartbeats plus one decision per placement: these keep the largest run to minutes.
MAX_MEMBERS = 20_000
MAX_PACKETS = 200_000
MAX_STEPS = 10_000
# members x steps: the heartbeat work of a run (10k members for 1,000 steps is 1e7).
MAX_WORK = 20_000_000
ACTIONS = ("join", "retire", "drain", "fail", "recover", "capabilities", "capacity", "submit")


class ScenarioError(ValueError):
    """A scenario that cannot run: says where (file or flag), which field, and why."""


@dataclass(frozen=True, slots=True)
class ChurnSpec:
    """One scripted change at a step (a scenario file's ``[[events]]``).

    ``member`` names one member; otherwise ``count`` members are chosen (from ``region``
    when given) by the run's seed. ``seconds`` is how long a ``fail`` lasts (0: until a
    ``recover``); ``capabilities`` is the new set for ``capabilities``, and for ``join``.
    """

    step: int
    action: str
    member: str = ""
    count: int = 1
    region: str = ""
    seconds: float = 0.0
    capabilities: tuple[str, ...] = ()
    cpu: float = 0.0
    memory: float = 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """What one run simulates. Times are virtual seconds."""

    mode: str = "ring"
    """ring (consistent hashing, long-lived keyed packets), binpack (cpu/memory demands) or
    agentic (tasks with capabilities that complete or fail at the members' rates)."""
    preset: str = "steady"
    """The churn preset (see phoenixd/sim/presets.py); ``events`` add to it."""
    steps: int = 20
    seed: int = 1
    members: int = 20
    """Members at the start (presets such as flash-crowd add more)."""
    packets: int = 200
    """Packets submitted at the start (agentic: the first tasks; more arrive each step)."""
    step_seconds: float = 30.0
    """Virtual time per step: long enough for a lease to expire (ttl + grace) and for the
    paced rebalancing after a join to finish (1 / rebalance share intervals)."""
    lease_ttl: float = 10.0
    suspect_grace: float = 10.0
    heartbeat_every: float = 5.0
    """How often a live member heartbeats (below lease_ttl, or healthy members expire)."""
    strategy: str = ""
    """ring, binpack, pack or trust; empty: the mode's (ring, binpack, trust)."""
    vnodes: int = 128
    task_seconds: float = 5.0
    """agentic: how long a task takes its owner."""
    arrivals: int = -1
    """agentic: tasks submitted per step after the first (-1: packets / 10, at least 1)."""
    events: tuple[ChurnSpec, ...] = field(default_factory=tuple)
    learn_reliability: bool = False
    """Learn the members' reliability from their tasks' outcomes, as phoenixd
    --learn-reliability does (trust placement routes by it)."""
    reliability_half_life: float = DEFAULT_HALF_LIFE
    """With learn_reliability: virtual seconds after which an outcome counts half."""
    reliability_prior_weight: float = DEFAULT_PRIOR_WEIGHT
    """With learn_reliability: how many outcomes a member's declared reliability is worth."""

    @property
    def placement(self) -> Strategy:
        return Strategy(self.strategy) if self.strategy else MODE_STRATEGY[self.mode]

    @property
    def task_arrivals(self) -> int:
        return self.arrivals if self.arrivals >= 0 else max(1, self.packets // 10)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["events"] = [
            {k: list(v) if isinstance(v, tuple) else v
             for k, v in dataclasses.asdict(e).items()} for e in self.events]
        return out


_INT_BOUNDS = {"steps": (1, MAX_STEPS), "members": (1, MAX_MEMBERS), "packets": (0, MAX_PACKETS),
               "seed": (0, 2**63 - 1), "vnodes": (1, 1024), "arrivals": (-1, 10_000)}
_FLOAT_BOUNDS = {"step_seconds": (1.0, 3600.0), "lease_ttl": (1.0, 3600.0),
                 "suspect_grace": (0.0, 3600.0), "heartbeat_every": (1.0, 3600.0),
                 "task_seconds": (1.0, 3600.0), "reliability_half_life": (1.0, 1e7),
                 "reliability_prior_weight": (0.01, 1e6)}
_EVENT_FIELDS = {f.name for f in dataclasses.fields(ChurnSpec)}


def _where(source: str, name: str) -> str:
    return f"{source}: {name}"


def _int(source: str, name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{_where(source, name)}: must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ScenarioError(
            f"{_where(source, name)}: must be between {low:,} and {high:,}, got {value:,}")
    return value


def _float(source: str, name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{_where(source, name)}: must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ScenarioError(
            f"{_where(source, name)}: must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _str(source: str, name: str, value: Any, choices: tuple[str, ...] = ()) -> str:
    if not isinstance(value, str):
        raise ScenarioError(f"{_where(source, name)}: must be text, got {value!r}")
    if choices and value not in choices:
        raise ScenarioError(
            f"{_where(source, name)}: {value!r} is not one of {', '.join(choices)}")
    return value


def _event(source: str, index: int, raw: Any, steps: int) -> ChurnSpec:
    where = f"events[{index}]"
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{_where(source, where)}: must be a table of fields, got {raw!r}")
    unknown = sorted(set(raw) - _EVENT_FIELDS)
    if unknown:
        raise ScenarioError(f"{_where(source, f'{where}.{unknown[0]}')}: unknown field; "
                            f"an event takes {', '.join(sorted(_EVENT_FIELDS))}")
    for required in ("step", "action"):
        if required not in raw:
            raise ScenarioError(f"{_where(source, f'{where}.{required}')}: missing")
    caps = raw.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise ScenarioError(f"{_where(source, f'{where}.capabilities')}: must be a list of "
                            f"names, got {caps!r}")
    return ChurnSpec(
        step=_int(source, f"{where}.step", raw["step"], 0, steps - 1),
        action=_str(source, f"{where}.action", raw["action"], ACTIONS),
        member=_str(source, f"{where}.member", raw.get("member", "")),
        count=_int(source, f"{where}.count", raw.get("count", 1), 1, MAX_MEMBERS),
        region=_str(source, f"{where}.region", raw.get("region", "")),
        seconds=_float(source, f"{where}.seconds", raw.get("seconds", 0.0), 0.0, 86400.0),
        capabilities=tuple(caps),
        cpu=_float(source, f"{where}.cpu", raw.get("cpu", 0.0), 0.0, 1e6),
        memory=_float(source, f"{where}.memory", raw.get("memory", 0.0), 0.0, 1e9),
    )


def scenario_from_mapping(raw: Mapping[str, Any], source: str,
                          base: Scenario | None = None) -> Scenario:
    """A checked Scenario from ``raw`` (a parsed file, or flags), over ``base``'s values.

    Raises ScenarioError naming ``source``, the field and the reason.
    """
    from phoenixd.sim.presets import PRESETS  # the presets build on this module's types

    base = base or Scenario()
    names = {f.name for f in dataclasses.fields(Scenario)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ScenarioError(f"{_where(source, unknown[0])}: unknown field; a scenario takes "
                            f"{', '.join(sorted(names))}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _INT_BOUNDS:
            values[name] = _int(source, name, value, *_INT_BOUNDS[name])
        elif name in _FLOAT_BOUNDS:
            values[name] = _float(source, name, value, *_FLOAT_BOUNDS[name])
        elif name == "mode":
            values[name] = _str(source, name, value, MODES)
        elif name == "preset":
            values[name] = _str(source, name, value, tuple(PRESETS))
        elif name == "strategy":
            values[name] = _str(source, name, value, ("", *(str(s) for s in Strategy)))
        elif name == "learn_reliability":
            if not isinstance(value, bool):
                raise ScenarioError(f"{_where(source, name)}: must be true or false, got "
                                    f"{value!r}")
            values[name] = value
    scenario = dataclasses.replace(base, **values)
    if "events" in raw:
        events = raw["events"]
        if not isinstance(events, list):
            raise ScenarioError(f"{_where(source, 'events')}: must be a list of tables "
                                f"([[events]] in TOML), got {events!r}")
        scenario = dataclasses.replace(scenario, events=tuple(
            _event(source, i, e, scenario.steps) for i, e in enumerate(events)))
    return _checked(scenario, source)


def _checked(s: Scenario, source: str) -> Scenario:
    """Rules across fields."""
    if s.heartbeat_every >= s.lease_ttl:
        raise ScenarioError(
            f"{_where(source, 'heartbeat_every')}: {s.heartbeat_every:g}s is not below "
            f"lease_ttl {s.lease_ttl:g}s: healthy members would expire")
    if s.members * s.steps > MAX_WORK:
        raise ScenarioError(
            f"{_where(source, 'steps')}: members x steps is {s.members * s.steps:,}, above "
            f"{MAX_WORK:,}; run fewer steps or fewer members")
    for i, e in enumerate(s.events):
        if e.step >= s.steps:
            raise ScenarioError(f"{_where(source, f'events[{i}].step')}: step {e.step} is past "
                                f"the last step ({s.steps - 1})")
    return s


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file: ``.toml``, or ``.yaml`` / ``.yml``."""
    source = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot be read: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            raw: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        else:
            raise ScenarioError(f"{source}: a scenario file ends in .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{source}: not valid {path.suffix[1:].upper()}: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{source}: must be a table of fields (mode, preset, steps, ...)")
    return scenario_from_mapping(raw, source)
