"""Benchmarks of the reconciler; run with `make bench` (not part of `make test`)."""
