"""The benchmark (see BENCHMARKS.md): python -m bench.run."""
