"""Benchmarks; run them from the repo root, e.g. `.venv/bin/python -m bench.coldstart`."""
