"""hash32 is MurmurHash3 x86_32: the published vectors, str hashed as its UTF-8 bytes, and the
same refusals (by exception type) in both twins."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.kernel.twins import PURE, compiled, outcome

UINT32 = st.integers(min_value=0, max_value=0xFFFFFFFF)

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


@given(data=st.binary(max_size=256), seed=UINT32)
def test_twins_agree_on_random_bytes(data: bytes, seed: int) -> None:
    assert compiled().hash32(data, seed) == PURE.hash32(data, seed)


@given(text=st.text(max_size=64), seed=UINT32)
def test_twins_agree_on_random_text(text: str, seed: int) -> None:
    assert compiled().hash32(text, seed) == PURE.hash32(text, seed)


@pytest.mark.parametrize("key", [None, 42, 1.5, bytearray(b"ab"), memoryview(b"ab"), ["a"]])
def test_non_str_bytes_key_is_type_error(kernel: ModuleType, key: object) -> None:
    with pytest.raises(TypeError, match=r"^key must be str or bytes"):
        kernel.hash32(key)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_seed_outside_uint32_is_value_error(kernel: ModuleType, seed: int) -> None:
    with pytest.raises(ValueError, match="seed"):
        kernel.hash32(b"k", seed)


@pytest.mark.parametrize("seed", [1.0, "1", None])
def test_non_integer_seed_is_type_error(kernel: ModuleType, seed: object) -> None:
    with pytest.raises(TypeError):
        kernel.hash32(b"k", seed)


def test_lone_surrogate_cannot_be_encoded(kernel: ModuleType) -> None:
    with pytest.raises(UnicodeEncodeError):
        kernel.hash32("\ud800")


@pytest.mark.parametrize("args", [(None,), (b"k", -1), (b"k", 1.5), ("\udfff",), (b"k", 2**64)])
def test_twins_raise_the_same_error_types(args: tuple[object, ...]) -> None:
    assert outcome(compiled().hash32, *args) == outcome(PURE.hash32, *args)
