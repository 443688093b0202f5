"""Benchmarks: each prints measured numbers beside a baseline measured in the same run."""
