"""Benchmarks import the kernels directly; both twins must be importable here."""
