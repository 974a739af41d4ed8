"""The ring facade picks the compiled kernel when it is built, falls back to the pure twin when it
is not, and PHOENIX_NO_EXTENSIONS forces the pure twin."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

import phoenixd.ring as ring
from phoenixd import _ring_py

NO_EXTENSIONS = os.environ.get("PHOENIX_NO_EXTENSIONS", "") not in ("", "0")
COMPILED_BUILT = importlib.util.find_spec("phoenixd._ring") is not None
# The checkout (or site-packages) holding phoenixd, so the child interpreter imports the same one.
PACKAGE_ROOT = Path(ring.__file__).resolve().parents[1]


def _require_compiled() -> None:
    if COMPILED_BUILT:
        return
    if NO_EXTENSIONS:
        pytest.skip("PHOENIX_NO_EXTENSIONS is set and phoenixd._ring is not built")
    pytest.fail("phoenixd._ring is not built; run `python setup.py build_ext --inplace`")


def _kernel_in_subprocess(flag: str | None, prelude: str = "") -> str:
    """Return the KERNEL a fresh interpreter's facade picks with PHOENIX_NO_EXTENSIONS=flag."""
    env = {k: v for k, v in os.environ.items() if k != "PHOENIX_NO_EXTENSIONS"}
    if flag is not None:
        env["PHOENIX_NO_EXTENSIONS"] = flag
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    code = f"{prelude}import phoenixd.ring as r; print(r.KERNEL)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


API = [
    "DEFAULT_VNODES",
    "KERNEL",
    "RULES",
    "Ring",
    "argmax_binpack",
    "argmax_trust",
    "eligibility",
    "hash32",
    "hash32_many",
    "lookup",
    "lookup_bounded",
    "lookup_many",
    "ring_tokens",
    "scores_binpack",
    "scores_trust",
    "top_scores",
]


def test_facade_exports_the_kernel_api() -> None:
    assert sorted(ring.__all__) == API
    assert ring.KERNEL in ("compiled", "pure")
    assert ring.DEFAULT_VNODES == 128
    assert ring.hash32("hello") == 0x248BFA47


def test_facade_reexports_the_active_kernel() -> None:
    active = _ring_py if ring.KERNEL == "pure" else importlib.import_module("phoenixd._ring")
    assert sorted(active.__all__) == API
    for name in API:
        assert getattr(ring, name) is getattr(active, name), name


def test_facade_api_works_end_to_end() -> None:
    tokens, owners = ring.ring_tokens(["a", "b", "c"], ring.DEFAULT_VNODES)
    keys = ring.hash32_many([f"job-{i}" for i in range(100)])
    placed = ring.lookup_many(tokens, owners, keys, b"\x01\x01\x01")
    assert list(placed) == [ring.lookup(tokens, owners, key, b"\x01\x01\x01") for key in keys]
    loads = array("i", [0, 0, 0])
    ring.lookup_bounded(tokens, owners, keys, b"\x01\x01\x01", loads, 0.25)
    assert sum(loads) == 100
    assert max(loads) <= 42  # ceil(1.25 * 100 / 3)
    built = ring.Ring(["a", "b", "c"])
    assert built.lookup_many(keys) == placed
    assert built.lookup(keys[0]) == built.lookup_key("job-0") == placed[0]
    ones = array("d", [1.0, 1.0, 1.0])
    assert ring.argmax_trust(ones, ones, array("d", [2.0, 0.0, 1.0]), b"\x01\x01\x01") == 1
    assert ring.argmax_binpack(ones, array("d", [0.0, 0.5, 0.2]), b"\x01\x01\x01", True) == 0


@pytest.mark.parametrize("flag", [None, "", "0"])
def test_compiled_kernel_is_the_default_when_built(flag: str | None) -> None:
    _require_compiled()
    assert _kernel_in_subprocess(flag) == "compiled"


@pytest.mark.parametrize("flag", ["1", "yes"])
def test_no_extensions_forces_pure(flag: str) -> None:
    assert _kernel_in_subprocess(flag) == "pure"


def test_unimportable_extension_falls_back_to_pure() -> None:
    # A None entry in sys.modules makes `import phoenixd._ring` raise ImportError, as when the
    # extension was never built.
    prelude = "import sys; sys.modules['phoenixd._ring'] = None; "
    assert _kernel_in_subprocess(None, prelude) == "pure"
