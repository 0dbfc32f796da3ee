"""Smoke test of the benchmark (bench/)."""
