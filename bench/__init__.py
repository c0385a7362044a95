"""Benchmarks, run on demand (`make bench`); results are recorded in bench/README.md, never asserted in tests."""
