"""The DMA metrics (one implementation for the simulator and the daemon): the seed's formulas
reproduce its example exactly; compliance and success rate; the balance figures."""

from __future__ import annotations

import pytest

from phoenixd.core import dma as metrics
from phoenixd.sim import metrics as sim_metrics


def test_the_seeds_example_reproduces() -> None:
    """J=12, L=8 over 24 hours, trust 0.95, compliance 0.98 (seed 002's metrics card)."""
    churn = metrics.mcr(12, 8, 24.0)
    stability = metrics.si(churn)
    assert round(churn, 4) == 0.8333
    assert round(metrics.wmcr(12, 8, 24.0), 4) == 0.5833
    assert round(stability, 4) == 0.5455
    assert f"{metrics.dhs(stability, 0.95, 0.98):.1%}" == "82.5%"


def test_the_simulator_uses_the_same_formulas() -> None:
    assert sim_metrics.mcr is metrics.mcr and sim_metrics.load_stats is metrics.load_stats


def test_compliance_and_success_rate() -> None:
    assert metrics.compliance(9, 1) == 0.9
    assert metrics.compliance(0, 0) == 1.0  # no writes: nothing failed the check
    assert metrics.success_rate(3, 1) == 0.75
    assert metrics.success_rate(0, 0) == 1.0


def test_no_time_no_churn() -> None:
    assert metrics.mcr(3, 1, 0.0) == 0.0
    assert metrics.si(0.0) == 1.0


def test_load_figures_of_an_even_and_a_skewed_fleet() -> None:
    assert metrics.load_stats([5, 5, 5, 5]) == (5.0, 0.0, 0.0, 1.0, 1.0)
    mean, std, cv, max_avg, jain = metrics.load_stats([8, 0, 0, 0])
    assert (mean, max_avg) == (2.0, 4.0)
    assert std == pytest.approx(3.4641016)
    assert cv == pytest.approx(std / mean)
    assert jain == pytest.approx(0.25)  # one member holds everything: 1/n


def test_an_idle_fleet_is_even() -> None:
    assert metrics.load_stats([0, 0]) == (0.0, 0.0, 0.0, 1.0, 1.0)
    assert metrics.load_stats([]) == (0.0, 0.0, 0.0, 1.0, 1.0)


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert metrics.percentile(values, 50) == 50.0
    assert metrics.percentile(values, 99) == 99.0
    assert metrics.percentile([], 50) == 0.0
