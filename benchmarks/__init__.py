"""Benchmarks: each module runs with ``python -m benchmarks.<name>`` and prints ratios
against a named baseline measured in the same run. ``python -m benchmarks`` runs all."""
