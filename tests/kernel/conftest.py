"""The ``kernel`` fixture: every test that takes it runs against both twins."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.kernel.twins import PURE, compiled


# Module scope: Hypothesis tests may not use function-scoped fixtures.
@pytest.fixture(scope="module", params=["compiled", "pure"])
def kernel(request: pytest.FixtureRequest) -> ModuleType:
    return compiled() if request.param == "compiled" else PURE
