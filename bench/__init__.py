"""leadbot's performance benchmarks: ``python -m bench`` (see bench/RESULTS.md)."""
