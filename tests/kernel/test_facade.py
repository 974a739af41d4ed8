"""The kernel facade (phoenixd.kernel) picks the compiled twin when it is built, falls back to the
pure twin when it is not, and PHOENIX_NO_EXTENSIONS forces the pure twin."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

import phoenixd.kernel as kernel
from tests.kernel.twins import NO_EXTENSIONS, PURE

COMPILED_BUILT = importlib.util.find_spec("phoenixd.kernel._compiled") is not None
# The checkout (or site-packages) holding phoenixd, so the child interpreter imports the same one.
PACKAGE_ROOT = Path(kernel.__file__).resolve().parents[2]


def _require_compiled() -> None:
    if COMPILED_BUILT:
        return
    if NO_EXTENSIONS:
        pytest.skip("PHOENIX_NO_EXTENSIONS is set and phoenixd.kernel._compiled is not built")
    pytest.fail("phoenixd.kernel._compiled is not built; run `python setup.py build_ext --inplace`")


def _kernel_in_subprocess(flag: str | None, prelude: str = "") -> str:
    """Return the KERNEL a fresh interpreter's facade picks with PHOENIX_NO_EXTENSIONS=flag."""
    env = {k: v for k, v in os.environ.items() if k != "PHOENIX_NO_EXTENSIONS"}
    if flag is not None:
        env["PHOENIX_NO_EXTENSIONS"] = flag
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    code = f"{prelude}import phoenixd.kernel as k; print(k.KERNEL)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# What production code uses; a name only tests or benchmarks need does not belong here.
API = [
    "DEFAULT_VNODES",
    "KERNEL",
    "RULES",
    "Ring",
    "argmax_binpack",
    "argmax_trust",
    "eligibility",
    "hash32",
    "scores_binpack",
    "scores_trust",
    "top_scores",
]


def test_facade_exports_the_kernel_api() -> None:
    assert sorted(kernel.__all__) == API
    assert kernel.KERNEL in ("compiled", "pure")
    assert kernel.DEFAULT_VNODES == 128
    assert kernel.hash32("hello") == 0x248BFA47


def test_facade_reexports_the_active_twin() -> None:
    if kernel.KERNEL == "pure":
        active = PURE
    else:
        active = importlib.import_module("phoenixd.kernel._compiled")
    for name in API:
        assert getattr(kernel, name) is getattr(active, name), name


def test_facade_api_works_end_to_end() -> None:
    built = kernel.Ring(["a", "b", "c"])
    keys = array("I", [kernel.hash32(f"job-{i}") for i in range(100)])
    placed = built.lookup_many(keys, b"\x01\x01\x01")
    assert list(placed) == [built.lookup(key) for key in keys]
    assert built.lookup(keys[0]) == built.lookup_key("job-0") == placed[0]
    loads = array("i", [0, 0, 0])
    built.lookup_bounded(keys, loads, 0.25)
    assert sum(loads) == 100
    assert max(loads) <= 42  # ceil(1.25 * 100 / 3)
    ones = array("d", [1.0, 1.0, 1.0])
    assert kernel.argmax_trust(ones, ones, array("d", [2.0, 0.0, 1.0]), b"\x01\x01\x01") == 1
    assert kernel.argmax_binpack(ones, array("d", [0.0, 0.5, 0.2]), b"\x01\x01\x01", True) == 0
    rules = bytearray(3)
    assert kernel.eligibility(b"\x01\x00\x01", ones, ones, ones, array("i", [0, 0, 0]),
                              b"\x01\x01\x01", 0.5, 0.5, 0.0, b"", False, rules) == 2
    assert [kernel.RULES[code] for code in rules] == ["", "missing_capability", ""]
    assert list(kernel.top_scores(array("d", [0.5, 2.0, 1.0]), b"\x01\x01\x01", 2)) == [1, 2]


@pytest.mark.parametrize("flag", [None, "", "0"])
def test_compiled_kernel_is_the_default_when_built(flag: str | None) -> None:
    _require_compiled()
    assert _kernel_in_subprocess(flag) == "compiled"


@pytest.mark.parametrize("flag", ["1", "yes"])
def test_no_extensions_forces_pure(flag: str) -> None:
    assert _kernel_in_subprocess(flag) == "pure"


def test_unimportable_extension_falls_back_to_pure() -> None:
    # A None entry in sys.modules makes `import phoenixd.kernel._compiled` raise ImportError, as
    # when the extension was never built.
    prelude = "import sys; sys.modules['phoenixd.kernel._compiled'] = None; "
    assert _kernel_in_subprocess(None, prelude) == "pure"
