"""The benchmark suite of issue #6 (`make bench`): see bench/run.py and docs/benchmarks.md."""
