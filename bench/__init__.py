"""Benchmarks (`make bench`): each prints its numbers and the ratio to its baseline."""
