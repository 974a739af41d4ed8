"""Argument checks of the pure twin: buffers, lengths and scalars, refused as the compiled twin
refuses them (the same exception types, raised in the same order)."""

from __future__ import annotations

from array import array
from operator import index
from typing import Final, TypeAlias, TypeVar

MASK: Final = 0xFFFFFFFF  # Python ints do not wrap: every product is masked back to 32 bits
INT32_MAX: Final = 2**31 - 1

U32: Final = "a contiguous 1-D buffer of uint32 (array typecode 'I')"
I32: Final = "a contiguous 1-D buffer of int32 (array typecode 'i')"
U8: Final = "a contiguous 1-D buffer of uint8 (bytes, bytearray or array typecode 'B')"
F64: Final = "a contiguous 1-D buffer of float64 (array typecode 'd')"

# Strings, because array.array is not subscriptable at run time before Python 3.12.
OutT = TypeVar("OutT", "array[int]", memoryview)
UInt32s: TypeAlias = "array[int] | memoryview"
Int32s: TypeAlias = "array[int] | memoryview"
Flags: TypeAlias = "bytes | bytearray | array[int] | memoryview"
Floats: TypeAlias = "array[float] | memoryview"


def check_u32(value: int, name: str) -> int:
    number = index(value)  # TypeError for non-integers, as range() does
    if number < 0 or number > MASK:
        raise ValueError(f"{name} must be in [0, 2**32), got {number}")
    return number


def view(
    obj: object, name: str, fmt: str, itemsize: int, what: str, writable: bool = False
) -> memoryview:
    try:
        mv = memoryview(obj)  # type: ignore[arg-type]  # any buffer exporter; checked here
    except TypeError:
        raise TypeError(f"{name} must be {what}, not {type(obj).__name__}") from None
    problem = None
    if mv.ndim != 1:
        problem = f"a {mv.ndim}-D {type(obj).__name__}"
    elif mv.format != fmt or mv.itemsize != itemsize:
        problem = f"{type(obj).__name__} of format {mv.format!r}"
    elif mv.strides != (itemsize,) or mv.suboffsets:
        problem = f"a strided {type(obj).__name__}"
    elif writable and mv.readonly:
        problem = f"a read-only {type(obj).__name__}"
    if problem is not None:
        raise TypeError(f"{name} must be {'writable, ' if writable else ''}{what}, not {problem}")
    return mv


def u32(obj: object, name: str) -> memoryview:
    return view(obj, name, "I", 4, U32)


def i32(obj: object, name: str) -> memoryview:
    return view(obj, name, "i", 4, I32)


def u8(obj: object, name: str) -> memoryview:
    return view(obj, name, "B", 1, U8)


def f64(obj: object, name: str) -> memoryview:
    return view(obj, name, "d", 8, F64)


def check_lengths(per: str, names: tuple[str, ...], lengths: tuple[int, ...]) -> None:
    if lengths.count(lengths[0]) != len(lengths):
        raise ValueError(
            f"{_join(names)} must have one item per {per}, "
            f"got lengths {_join(tuple(str(n) for n in lengths))}"
        )


def _join(words: tuple[str, ...]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1]


def check_per_member(name: str, size: int, n_members: int) -> None:
    if size != n_members:
        raise ValueError(f"{name} has {size} items, expected one per member ({n_members})")


def checked_out(out: array[int] | memoryview, n: int, fmt: str, what: str) -> memoryview:
    mv = memoryview(out)
    if mv.readonly:
        raise ValueError("out must be writable")
    if mv.ndim != 1 or mv.format != fmt or mv.itemsize != 4 or not mv.c_contiguous:
        raise ValueError(f"out must be {what}")
    if len(mv) != n:
        raise ValueError(f"out has {len(mv)} items, expected {n}")
    return mv


def fill(out: array[int] | memoryview | None, results: list[int]) -> array[int] | memoryview:
    found = array("i", results)
    if out is None:
        return found
    memoryview(out)[:] = found
    return out


def check_epsilon(epsilon: float) -> float:
    if not isinstance(epsilon, (int, float)):
        raise TypeError(f"epsilon must be a float, not {type(epsilon).__name__}")
    value = float(epsilon)  # OverflowError for an int too large, as in the compiled twin
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    return value


def real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    return float(value)
