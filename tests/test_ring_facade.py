"""The ring facade picks the compiled kernel when it is built, falls back to the pure twin when it
is not, and PHOENIX_NO_EXTENSIONS forces the pure twin."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
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


def test_facade_exports_the_kernel_api() -> None:
    assert sorted(ring.__all__) == ["KERNEL", "hash32", "hash32_many"]
    assert ring.KERNEL in ("compiled", "pure")
    assert ring.hash32("hello") == 0x248BFA47


def test_facade_reexports_the_active_kernel() -> None:
    active = _ring_py if ring.KERNEL == "pure" else importlib.import_module("phoenixd._ring")
    assert ring.hash32 is active.hash32
    assert ring.hash32_many is active.hash32_many


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
