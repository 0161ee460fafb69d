"""Benchmarks of the credit-score platform (model quality; run as `python -m benchmarks.<name>`)."""
