"""The two kernel twins for tests: the compiled one (a failure when it is not built, unless
PHOENIX_NO_EXTENSIONS is set) and the pure one, how to compare what they do, and the random
rings both are checked on."""

from __future__ import annotations

import importlib
import os
from array import array
from types import ModuleType

import pytest
from hypothesis import strategies as st

from phoenixd.kernel import _pure

NO_EXTENSIONS = os.environ.get("PHOENIX_NO_EXTENSIONS", "") not in ("", "0")
PURE: ModuleType = _pure

UINT32 = st.integers(min_value=0, max_value=0xFFFFFFFF)
# Small values and the top of the ring make ties and wrap-arounds common.
TOKEN = st.one_of(st.integers(0, 8), st.integers(0xFFFFFFF8, 0xFFFFFFFF), UINT32)
MEMBER_IDS = st.lists(st.text(max_size=8), max_size=6, unique=True)


def near_tokens(tokens: list[int]) -> st.SearchStrategy[array[int]]:
    """Key hashes: anywhere, at the ends of the ring, and on or just beside the given tokens."""
    key = TOKEN
    if tokens:
        near = st.tuples(st.sampled_from(tokens), st.sampled_from([-1, 0, 1]))
        key = st.one_of(TOKEN, near.map(lambda pair: min(max(pair[0] + pair[1], 0), 0xFFFFFFFF)))
    return st.lists(key, max_size=20).map(lambda keys: array("I", keys))


def flags(n: int) -> st.SearchStrategy[bytes | None]:
    """None (everyone eligible) or one byte per member, often all zero or all nonzero."""
    return st.one_of(
        st.none(), st.sampled_from([bytes(n), b"\x01" * n]), st.binary(min_size=n, max_size=n)
    )


def _import_compiled() -> ModuleType | ImportError:
    try:
        return importlib.import_module("phoenixd.kernel._compiled")
    except ImportError as exc:
        return exc


_COMPILED = _import_compiled()


def compiled() -> ModuleType:
    """Return the compiled kernel; fail when it is not built, skip only if that was asked for."""
    if isinstance(_COMPILED, ModuleType):
        return _COMPILED
    if NO_EXTENSIONS:
        pytest.skip("PHOENIX_NO_EXTENSIONS is set and phoenixd.kernel._compiled is not built")
    pytest.fail(
        f"phoenixd.kernel._compiled is not built ({_COMPILED}); run "
        "`python setup.py build_ext --inplace`, or set PHOENIX_NO_EXTENSIONS=1 to test the pure "
        "kernel alone",
        pytrace=False,
    )


def plain(value: object) -> object:
    """``value`` in a form that compares exactly: arrays by typecode and bytes (so NaN == NaN)."""
    if isinstance(value, array):
        return value.typecode, value.tobytes()
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    return value


def outcome(func: object, *args: object, **kwargs: object) -> object:
    """What a call gives: its result, or the type of what it raised (messages may differ)."""
    assert callable(func)
    try:
        return plain(func(*args, **kwargs))
    except Exception as exc:
        return type(exc)


def error_type(func: object, *args: object, **kwargs: object) -> type[BaseException]:
    """The type of the exception a call raises; fails the test if it raises none."""
    assert callable(func)
    with pytest.raises(Exception) as info:
        func(*args, **kwargs)
    return info.type
