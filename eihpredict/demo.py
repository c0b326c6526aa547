"""The end-to-end demo behind ``make demo``: simulate, validate, and (when available) train.

Run as ``python -m eihpredict.demo --out demo-output``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .cohort_io import write_table
from .simulate import simulate_cohort, write_truth
from .validation import validate_file

logger = logging.getLogger("eihpredict.demo")


def run_demo(out: Path, n: int = 1000, seed: int = 42) -> dict[str, Path]:
    """Simulate a default cohort, validate it, and return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    cohort_path, truth_path = out / "cohort.csv", out / "truth.json"
    logger.info("1/2 simulating %d participants (default scenario, seed %d)", n, seed)
    cohort = simulate_cohort(n, seed=seed, scenario="default")
    write_table(cohort.frame, cohort_path)
    write_truth(cohort, truth_path)
    logger.info("2/2 validating %s against the cohort contract", cohort_path)
    summary = validate_file(cohort_path, report=out / "validation_report.csv")
    if not summary.ok:
        raise SystemExit(f"demo cohort is invalid: {summary.n_issues} problems")
    logger.info("valid: %d rows, %d columns", summary.n_rows, len(summary.columns))
    return {"cohort": cohort_path, "truth": truth_path}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    paths = run_demo(args.out, n=args.n, seed=args.seed)
    for name, path in paths.items():
        logger.info("%-8s %s", name, path)


if __name__ == "__main__":
    main()
