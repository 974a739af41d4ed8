"""The DMA simulator: phoenixd's own core on a virtual clock, driven by churn presets."""

from phoenixd.sim.observer import StepFigures
from phoenixd.sim.presets import PRESETS, build_plan
from phoenixd.sim.run import LEARNED, Comparison, SimResult, compare, simulate, variant
from phoenixd.sim.scenario import (
    MAX_MEMBERS,
    MAX_PACKETS,
    MAX_STEPS,
    MODES,
    ChurnSpec,
    Scenario,
    ScenarioError,
    load_scenario,
    scenario_from_mapping,
)

__all__ = [
    "LEARNED",
    "MAX_MEMBERS",
    "MAX_PACKETS",
    "MAX_STEPS",
    "MODES",
    "PRESETS",
    "ChurnSpec",
    "Comparison",
    "Scenario",
    "ScenarioError",
    "SimResult",
    "StepFigures",
    "build_plan",
    "compare",
    "load_scenario",
    "scenario_from_mapping",
    "simulate",
    "variant",
]
