"""Build hook for the Cython placement kernel; all package metadata lives in pyproject.toml."""

import os

from setuptools import Extension, setup

# Each directive removes a check the kernel does not need: indices come from loops bounded by the
# buffer's own length, nothing indexes from the end, divisors are constants, and every memoryview
# is assigned before use.
_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}


def _extensions() -> list[Extension]:
    # PHOENIX_NO_EXTENSIONS (anything but "" or "0", as phoenixd/kernel reads it) gives a pure
    # install: the facade then uses the pure-Python twin.
    if os.environ.get("PHOENIX_NO_EXTENSIONS", "") not in ("", "0"):
        return []
    from Cython.Build import cythonize
    from Cython.Compiler import Options

    # The equivalent of `cython -Wextra -Werror`: cythonize() has no keyword for either, so set
    # the module-level flag and merge Cython's extra-warning directives. show_all_warnings stays
    # off: it also surfaces level-0 notes from Cython's own utility code (a "'cpdef_method'
    # redeclared" in its internal TestClass, loaded whenever memoryviews are used), which
    # warning_errors would turn into a failed build that is not ours to fix.
    Options.warning_errors = True
    # One module: _compiled.pyx includes its .pxi files, which cythonize tracks as dependencies.
    kernel = Extension(
        "phoenixd.kernel._compiled",
        ["phoenixd/kernel/_compiled.pyx"],
        extra_compile_args=["-O3", "-Wall", "-Werror"],  # GCC/Clang flags: Linux and macOS only
    )
    return cythonize([kernel], compiler_directives={**Options.extra_warnings, **_DIRECTIVES})


setup(ext_modules=_extensions())
