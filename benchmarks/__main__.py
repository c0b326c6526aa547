"""Run every benchmark in turn: ``python -m benchmarks``."""

from __future__ import annotations

import importlib
import sys

MODULES = ["validate", "ragged_lines", "features", "training", "biomarkers", "discovery",
           "scoring", "service", "passthrough"]

for name in MODULES:
    print(f"\n## benchmarks.{name}\n", flush=True)
    module = importlib.import_module(f"benchmarks.{name}")
    sys.argv = [name]
    module.main()
