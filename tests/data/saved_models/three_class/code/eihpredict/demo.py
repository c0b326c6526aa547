"""The end-to-end demo behind ``make demo``.

Simulates a cohort (default scenario), validates it, trains ``pipelines/default.yaml``
with nested CV (tracked in a local MLflow store), scores a fresh cohort with the saved
model, and prints the results table and where everything is.

Run as ``python -m eihpredict.demo --out demo-output``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .cohort_io import write_table
from .config import load_config
from .model_dir import load_model_dir
from .scoring import score_frame
from .simulate import simulate_cohort, write_truth
from .training import format_results, train
from .validation import validate_file

logger = logging.getLogger("eihpredict.demo")
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def run_demo(out: Path, n: int = 1000, seed: int = 42,
             config: Path = PIPELINES / "default.yaml") -> dict[str, Path]:
    """Run every step of the demo and return the paths it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    cohort_path, truth_path = out / "cohort.csv", out / "truth.json"
    logger.info("[1/4] simulating %d participants (default scenario, seed %d)", n, seed)
    cohort = simulate_cohort(n, seed=seed, scenario="default")
    write_table(cohort.frame, cohort_path)
    write_truth(cohort, truth_path)
    logger.info("[2/4] validating %s against the cohort contract", cohort_path)
    summary = validate_file(cohort_path, report=out / "validation_report.csv")
    if not summary.ok:
        raise SystemExit(f"demo cohort is invalid: {summary.n_issues} problems")
    logger.info("      valid: %d rows, %d columns", summary.n_rows, len(summary.columns))
    logger.info("[3/4] training %s (nested CV, Optuna, calibration, MLflow)", config.name)
    tracking = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    result = train(load_config(config), cohort_path, out=out / "model", tracking_uri=tracking)
    logger.info("[4/4] scoring 200 new participants with the saved model")
    new = simulate_cohort(200, seed=seed + 1, scenario="default").frame
    new = new.drop(columns=["eih_ppt_pre_kpa", "eih_ppt_post_kpa"])
    write_table(new, out / "new_participants.csv")
    loaded = load_model_dir(result.model_dir)
    scored = score_frame(loaded.model, new, model_version=loaded.version).scored
    write_table(scored, out / "scored.csv")
    print(format_results(result))  # noqa: T201 - the demo's report
    print(f"Scored file: {out / 'scored.csv'} ({len(scored)} rows)")  # noqa: T201
    print(f"Model card: {result.model_dir / 'model_card.md'}")  # noqa: T201
    print(f"Open the MLflow UI: .venv/bin/mlflow ui --backend-store-uri {tracking}")  # noqa: T201
    return {"cohort": cohort_path, "truth": truth_path, "model": result.model_dir,
            "scored": out / "scored.csv"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config", type=Path, default=PIPELINES / "default.yaml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("mlflow", "alembic", "matplotlib", "optuna"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    run_demo(args.out, n=args.n, seed=args.seed, config=args.config)


if __name__ == "__main__":
    main()
