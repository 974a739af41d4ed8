"""The ring's MurmurHash3 x86_32 kernels give the reference hashes, and the compiled and pure twins
agree on every input, batch and error.

Every test runs against both twins. A missing compiled kernel is a failure, not a skip, unless
PHOENIX_NO_EXTENSIONS is set: CI must not lose the extension without noticing.
"""

from __future__ import annotations

import importlib
import inspect
import os
from array import array
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoenixd import _ring_py

NO_EXTENSIONS = os.environ.get("PHOENIX_NO_EXTENSIONS", "") not in ("", "0")
UINT32 = st.integers(min_value=0, max_value=0xFFFFFFFF)
KEYS = st.one_of(st.binary(max_size=64), st.text(max_size=32))


def _import_compiled() -> ModuleType | ImportError:
    try:
        return importlib.import_module("phoenixd._ring")
    except ImportError as exc:
        return exc


_COMPILED = _import_compiled()


def _compiled() -> ModuleType:
    """Return the compiled kernel; fail when it is not built, skip only if that was asked for."""
    if isinstance(_COMPILED, ModuleType):
        return _COMPILED
    if NO_EXTENSIONS:
        pytest.skip("PHOENIX_NO_EXTENSIONS is set and phoenixd._ring is not built")
    pytest.fail(
        f"phoenixd._ring is not built ({_COMPILED}); run `python setup.py build_ext --inplace`, "
        "or set PHOENIX_NO_EXTENSIONS=1 to test the pure kernel alone",
        pytrace=False,
    )


# Module scope: Hypothesis tests may not use function-scoped fixtures.
@pytest.fixture(scope="module", params=["compiled", "pure"])
def kernel(request: pytest.FixtureRequest) -> ModuleType:
    return _compiled() if request.param == "compiled" else _ring_py


# Checked against the mmh3 package (an independent C implementation) and the vectors commonly
# published for MurmurHash3_x86_32.
VECTORS = [
    (b"", 0, 0),
    (b"", 1, 0x514E28B7),
    (b"", 0xFFFFFFFF, 0x81F16F39),
    (b"\x00", 0, 0x514E28B7),
    (b"\x00\x00", 0, 0x30F4C306),
    (b"\x00\x00\x00", 0, 0x85F0B427),
    (b"\x00\x00\x00\x00", 0, 0x2362F9DE),
    (b"\xff\xff\xff\xff", 0, 0x76293B50),
    (b"\x21\x43\x65\x87", 0x5082EDEE, 0x2362F9DE),
    (b"hello", 0, 0x248BFA47),
    (b"Hello, world!", 0x9747B28C, 0x24884CBA),
    (b"The quick brown fox jumps over the lazy dog", 0, 0x2E4FF723),
]

# Tails of 1, 2 and 3 bytes after zero or one whole block; the high-bit bytes catch a byte read
# that sign-extends.
TAILS = [
    (b"a", 0, 0x3C2569B2),
    (b"ab", 0, 0x9BBFD75F),
    (b"abc", 0, 0xB3DD93FA),
    (b"abc", 0xFFFFFFFF, 0xFC80C2AF),
    (b"abcd", 0, 0x43ED676A),
    (b"\x80", 0x9747B28C, 0xA7E31DAF),
    (b"\x80\x81\x82", 0, 0x7508A955),
]


def test_kernel_names_itself(kernel: ModuleType) -> None:
    expected = "pure" if kernel is _ring_py else "compiled"
    assert expected == kernel.KERNEL


@pytest.mark.parametrize("name", ["hash32", "hash32_many"])
def test_twins_have_the_same_signature(name: str) -> None:
    def shape(func: object) -> list[tuple[str, object, object]]:
        assert callable(func)
        params = inspect.signature(func).parameters.values()
        return [(p.name, p.kind, p.default) for p in params]  # annotations: see _ring.pyi

    assert shape(getattr(_compiled(), name)) == shape(getattr(_ring_py, name))


@pytest.mark.parametrize(("key", "seed", "expected"), VECTORS + TAILS)
def test_known_vectors(kernel: ModuleType, key: bytes, seed: int, expected: int) -> None:
    assert kernel.hash32(key, seed) == expected


def test_default_seed_is_zero(kernel: ModuleType) -> None:
    assert kernel.hash32(b"hello") == 0x248BFA47


@pytest.mark.parametrize("text", ["", "hello", "héllo", "日本語のキー", "emoji 🐦‍🔥"])
def test_str_hashes_as_its_utf8_bytes(kernel: ModuleType, text: str) -> None:
    assert kernel.hash32(text, 7) == kernel.hash32(text.encode("utf-8"), 7)


def test_non_ascii_str_vector(kernel: ModuleType) -> None:
    assert kernel.hash32("héllo") == 0xBC9FA068


def test_batch_returns_uint32_array_equal_to_single_calls(kernel: ModuleType) -> None:
    keys: list[bytes | str] = [b"", "a", b"ab", "abc", "héllo", b"\xff" * 9, "x" * 1000]
    got = kernel.hash32_many(keys, 42)
    assert isinstance(got, array)
    assert got.typecode == "I"
    assert list(got) == [kernel.hash32(k, 42) for k in keys]


def test_batch_accepts_any_sequence(kernel: ModuleType) -> None:
    assert list(kernel.hash32_many(("a", b"b"))) == [kernel.hash32("a"), kernel.hash32(b"b")]


def test_empty_batch(kernel: ModuleType) -> None:
    got = kernel.hash32_many([])
    assert isinstance(got, array)
    assert len(got) == 0


def test_batch_fills_given_array(kernel: ModuleType) -> None:
    out = array("I", [0] * 3)
    assert kernel.hash32_many(["a", "b", "c"], 5, out=out) is out
    assert list(out) == [kernel.hash32(k, 5) for k in "abc"]


def test_batch_fills_given_memoryview(kernel: ModuleType) -> None:
    backing = array("I", [0] * 4)
    view = memoryview(backing)[1:3]
    assert kernel.hash32_many(["a", "b"], out=view) is view
    assert list(backing) == [0, kernel.hash32("a"), kernel.hash32("b"), 0]


@given(data=st.binary(max_size=256), seed=UINT32)
def test_twins_agree_on_random_bytes(data: bytes, seed: int) -> None:
    assert _compiled().hash32(data, seed) == _ring_py.hash32(data, seed)


@given(text=st.text(max_size=64), seed=UINT32)
def test_twins_agree_on_random_text(text: str, seed: int) -> None:
    assert _compiled().hash32(text, seed) == _ring_py.hash32(text, seed)


@given(keys=st.lists(KEYS, max_size=50), seed=UINT32)
def test_batch_is_map_of_single(kernel: ModuleType, keys: list[bytes | str], seed: int) -> None:
    assert list(kernel.hash32_many(keys, seed)) == [kernel.hash32(k, seed) for k in keys]


# Errors: the twins must fail alike, same type and same message, so code (and its tests) cannot
# come to depend on which kernel is active.


def _error(func: object, *args: object, **kwargs: object) -> tuple[type[BaseException], str]:
    assert callable(func)
    with pytest.raises(Exception) as info:
        func(*args, **kwargs)
    return info.type, str(info.value)


@pytest.mark.parametrize("key", [None, 42, 1.5, bytearray(b"ab"), memoryview(b"ab"), ["a"]])
def test_non_str_bytes_key_is_type_error(kernel: ModuleType, key: object) -> None:
    with pytest.raises(TypeError, match=r"^key must be str or bytes, not \w+$"):
        kernel.hash32(key)
    with pytest.raises(TypeError, match=r"^keys\[1\] must be str or bytes, not \w+$"):
        kernel.hash32_many(["ok", key])


@pytest.mark.parametrize("keys", ["abc", b"abc"])
def test_single_str_or_bytes_as_batch_is_type_error(kernel: ModuleType, keys: object) -> None:
    with pytest.raises(TypeError, match="sequence of keys"):
        kernel.hash32_many(keys)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_seed_outside_uint32_is_value_error(kernel: ModuleType, seed: int) -> None:
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\)"):
        kernel.hash32(b"k", seed)
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\)"):
        kernel.hash32_many([b"k"], seed)


@pytest.mark.parametrize("seed", [1.0, "1", None])
def test_non_integer_seed_is_type_error(kernel: ModuleType, seed: object) -> None:
    with pytest.raises(TypeError):
        kernel.hash32(b"k", seed)


def test_lone_surrogate_cannot_be_encoded(kernel: ModuleType) -> None:
    with pytest.raises(UnicodeEncodeError):
        kernel.hash32("\ud800")


@pytest.mark.parametrize(
    ("out", "match"),
    [
        (array("I", [0]), "out has 1 items, expected 2"),
        (array("i", [0, 0]), "uint32"),
        (array("H", [0, 0, 0, 0]), "uint32"),
        (memoryview(bytes(8)).cast("I"), "writable"),
        (memoryview(array("I", [0] * 4))[::2], "contiguous"),
    ],
)
def test_bad_out_buffer_is_value_error(kernel: ModuleType, out: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        kernel.hash32_many(["a", "b"], out=out)


@pytest.mark.parametrize("args", [(None,), (b"k", -1), (b"k", 1.5), ("\udfff",)])
def test_twins_raise_identical_errors_for_single(args: tuple[object, ...]) -> None:
    assert _error(_compiled().hash32, *args) == _error(_ring_py.hash32, *args)


@pytest.mark.parametrize(
    ("keys", "seed", "out"),
    [
        ([b"a", 3], 0, None),
        ("ab", 0, None),
        ([b"a"], 2**32, None),
        ([b"a"], 0, array("I")),
        ([b"a"], 0, array("d", [0.0])),
        ([b"a"], 0, b"abcd"),
        ([b"a"], 0, 5),
    ],
)
def test_twins_raise_identical_errors_for_batch(keys: object, seed: int, out: object) -> None:
    compiled = _error(_compiled().hash32_many, keys, seed, out=out)
    assert compiled == _error(_ring_py.hash32_many, keys, seed, out=out)
