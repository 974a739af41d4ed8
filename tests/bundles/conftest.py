"""Shared: the example PhoenixFile, a key pair, and PhoenixFiles written inline."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phoenixd.bundles import PhoenixFile, build_bundle, load_phoenixfile, parse_phoenixfile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "customer-validation" / "PhoenixFile"
HEADER = """\
apiVersion: phoenixflight/v1
bundle: {name: acme.test, version: 1.0.0}
"""


def phoenixfile(body: str, header: str = HEADER) -> PhoenixFile:
    """A PhoenixFile of the standard header and ``body`` (dedented)."""
    return parse_phoenixfile((header + textwrap.dedent(body)).encode())


@pytest.fixture(scope="session")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def example() -> PhoenixFile:
    return load_phoenixfile(EXAMPLE)


@pytest.fixture(scope="session")
def signed(example: PhoenixFile, key: Ed25519PrivateKey) -> bytes:
    """The example bundle, signed by ``key``."""
    return build_bundle(example, key=key).data
