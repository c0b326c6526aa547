"""``evaluate`` and ``update``: a saved model on a labelled cohort it never saw.

Application layer. :func:`evaluate_model` predicts with the model directory's fitted
model (the one protocol, as ``score`` does), labels the cohort with the model's own label
rule, and writes external-validation metrics with intervals (definitions and their
agreement with R's ``rms::val.prob``, ``glm`` with offset and ``pROC`` are in
:mod:`eihpredict.modeling._external`), a flexible calibration curve with its band, a
decision curve, a subgroup table, the Riley (2021) sample size a validation of this
precision needs, and one self-contained ``report.html``. With a reachable MLflow store
the evaluation is logged as its own run, tagged with the model's version and run.

:func:`update_model` updates a model for a new population (Steyerberg, "Clinical
Prediction Models", ch. 20): ``intercept`` re-estimates calibration-in-the-large
(``logit p_new = a + logit p``), ``logistic`` re-estimates intercept and slope
(``logit p_new = a + b logit p``), ``refit`` fits the model's candidate again on the new
data. The result is a complete model directory whose metadata names the parent
``model_version`` and the method, and whose card says so.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from .config import PipelineConfig
from .labels import LabelRule, make_labels
from .model_dir import LoadedModel, check_model_destination, save_model_dir
from .modeling import (
    Calibrator,
    choose_threshold,
    fit_candidate,
    flexible_calibration_curve,
    get_task,
    net_benefit_curve,
    recalibrate_intercept,
    recalibrate_logistic,
    subgroup_metrics,
    validation_sample_size,
)
from .schema import OUTCOME_COLUMNS

__all__ = ["EvaluationResult", "UpdatedCalibrator", "evaluate_model", "update_model",
           "UPDATE_METHODS"]

#: The files ``evaluate`` writes into its report directory (an input there by one of these
#: names is refused before any work).
REPORT_FILES = ("metrics.csv", "calibration_curve.csv", "decision_curve.csv", "subgroups.csv",
                "sample_size.json", "calibration.png", "decision_curve.png", "report.html")

logger = logging.getLogger("eihpredict.evaluate")

UPDATE_METHODS = ("intercept", "logistic", "refit")
_EPS = 1e-12


def _labels(loaded: LoadedModel, frame: pd.DataFrame, *, any_task: bool = False
            ) -> np.ndarray:
    """The outcome under the model's own label rule: 0/1 (binary), the change in kPa
    (continuous), 0/1/2 (three classes; ``any_task`` only)."""
    fields = LabelRule.model_fields
    rule = LabelRule(**{k: v for k, v in loaded.metadata["label_rule"].items() if k in fields})
    if not any_task and not get_task(loaded.model.task).updatable:
        raise ValueError(f"model {loaded.version}: update handles binary models; its label "
                         f"rule is {rule.describe()!r}")
    return make_labels(frame, rule).to_numpy()


@dataclass
class EvaluationResult:
    """What :func:`evaluate_model` wrote and found."""

    metrics: pd.DataFrame
    calibration_curve: pd.DataFrame
    decision_curve: pd.DataFrame
    subgroups: pd.DataFrame
    sample_size: dict[str, Any]
    out: Path
    files: dict[str, Path]
    n: int
    events: int
    run_id: str | None = None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _plot_calibration(curve: pd.DataFrame, y: np.ndarray, p: np.ndarray, path: Path,
                      event: str = "impaired EIH") -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="ideal")
    ax.fill_between(curve["predicted"], curve["ci_low"], curve["ci_high"], color="tab:blue",
                    alpha=0.2, label="95 % band")
    ax.plot(curve["predicted"], curve["observed"], color="tab:blue",
            label="flexible calibration curve")
    edges = np.quantile(p, np.linspace(0, 1, 11))
    groups = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
    means = pd.DataFrame({"p": p, "y": y, "g": groups}).groupby("g").mean()
    ax.scatter(means["p"], means["y"], color="black", s=14, label="deciles")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"predicted probability of {event}",
           ylabel="observed proportion", title="Calibration in the new cohort")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_decision(curve: pd.DataFrame, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve["threshold"], curve["net_benefit"], label="model")
    ax.fill_between(curve["threshold"], curve["ci_low"], curve["ci_high"], alpha=0.2)
    ax.plot(curve["threshold"], curve["treat_all"], color="grey", label="treat all")
    ax.axhline(0, color="black", lw=1, label="treat none")
    top = float(np.nanmax(curve["net_benefit"].to_numpy()))
    ax.set(ylim=(-0.05, max(top, 0.05) * 1.2), xlabel="threshold probability",
           ylabel="net benefit", title="Decision curve in the new cohort")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="",
                         border=0, escape=True)


def _decision(loaded: LoadedModel) -> str:
    return get_task(loaded.model.task).external_decision(loaded.model.threshold)


def _report(loaded: LoadedModel, result: EvaluationResult, source: str) -> str:
    images = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(path.read_bytes()).decode()}"></figure>'
        for name, path in result.files.items() if name.endswith(".png"))
    ss = result.sample_size
    adequacy = (f"The validation cohort has {result.n} rows ({result.events} events). For 95 % "
                f"intervals of width 0.2 for O/E and the calibration slope and 0.1 for the "
                f"C-statistic, Riley et al. (2021) ask for {ss['minimum_n']} rows: "
                + ("adequate." if result.n >= ss["minimum_n"] else
                   "<strong>the cohort is smaller: read the intervals, not the estimates."
                   "</strong>"))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>External validation of {html.escape(loaded.version)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{padding:2px 8px;text-align:right}}
img{{max-width:100%}}</style></head><body>
<h1>External validation</h1>
<p>Model <code>{html.escape(loaded.version)}</code> ({html.escape(loaded.metadata['candidate'])})
on <code>{html.escape(source)}</code>, a cohort it never saw; label rule:
{html.escape(loaded.metadata['label_rule'].get('description', ''))}; {_decision(loaded)}.</p>
<h2>Performance (95 % intervals)</h2>{_table_html(result.metrics)}
<p>{adequacy}</p>{images}
<h2>Subgroups</h2>{_table_html(result.subgroups) if len(result.subgroups) else '<p>none</p>'}
<p>Definitions: calibration slope and calibration-in-the-large as rms::val.prob and a
glm with offset; AUROC interval DeLong; O/E with the Riley (2021) interval. Research
software, not a medical device.</p></body></html>"""


def evaluate_model(loaded: LoadedModel, frame: pd.DataFrame, out: str | os.PathLike[str], *,
                   source: str = "cohort", n_boot: int = 1000, seed: int = 0,
                   track: bool = True) -> EvaluationResult:
    """External validation of a saved model on validated, labelled rows.

    Binary: the binary metrics. Continuous: ``r2, rmse, mae, change_calibration_*,
    pi_coverage, pi_width`` of the change, then the binary metrics of the derived
    ``p_impaired_eih``. Three classes: per-class (one vs rest) and macro metrics
    (:func:`~eihpredict.modeling.multiclass_metrics`); the curves, subgroups and sample
    size are those of hyperalgesia against the rest. Writes ``metrics.csv`` (``metric,
    estimate, ci_low, ci_high``),
    ``calibration_curve.csv``, ``decision_curve.csv``, ``subgroups.csv``,
    ``sample_size.json``, ``calibration.png``, ``decision_curve.png`` and ``report.html``
    into ``out``.
    """
    model = loaded.model
    outcome = _labels(loaded, frame, any_task=True)
    task = get_task(model.task)
    metrics, y, p = task.external_metrics(model, frame, outcome, loaded.metadata["label_rule"],
                                          n_boot=n_boot, seed=seed)
    auroc_name = task.external_auroc
    curve = flexible_calibration_curve(y, p)
    decision = net_benefit_curve(y, p)
    subgroups = subgroup_metrics(frame, y, p, seed=seed, n_boot=min(n_boot, 200))
    subgroups = task.subgroup_intervals(
        subgroups, frame, outcome, lambda: model.predict(model.batch(frame)))
    auroc = float(metrics.set_index("metric").loc[auroc_name, "estimate"])
    needed = validation_sample_size(float(np.clip(y.mean(), 0.01, 0.99)),
                                    float(np.clip(auroc, 0.51, 0.99)),
                                    linear_predictor=logit(p))
    sample_size = {"minimum_n": int(needed.minimum_n),
                   **{k: v for k, v in dataclasses.asdict(needed).items()
                      if isinstance(v, int | float | str)}}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"metrics.csv": out / "metrics.csv",
             "calibration_curve.csv": out / "calibration_curve.csv",
             "decision_curve.csv": out / "decision_curve.csv",
             "subgroups.csv": out / "subgroups.csv", "sample_size.json": out / "sample_size.json"}
    metrics.to_csv(files["metrics.csv"], index=False)
    curve.to_csv(files["calibration_curve.csv"], index=False)
    decision.to_csv(files["decision_curve.csv"], index=False)
    subgroups.to_csv(files["subgroups.csv"], index=False)
    files["sample_size.json"].write_text(json.dumps(sample_size, indent=2, default=str))
    files["calibration.png"] = _plot_calibration(
        curve, y, p, out / "calibration.png", task.event_short)
    files["decision_curve.png"] = _plot_decision(decision, out / "decision_curve.png")
    result = EvaluationResult(metrics, curve, decision, subgroups, sample_size, out, files,
                              n=len(y), events=int(y.sum()))
    files["report.html"] = out / "report.html"
    files["report.html"].write_text(_report(loaded, result, source))
    if track:
        result.run_id = _log_evaluation(loaded, result, source)
    return result


def _log_evaluation(loaded: LoadedModel, result: EvaluationResult, source: str) -> str | None:
    """Log to the model's MLflow store as a run tagged with the model's run (if reachable)."""
    from .tracking import training_run

    tracking = loaded.metadata.get("mlflow")
    if not tracking:
        return None
    try:
        with training_run(tracking["experiment"], tracking["tracking_uri"],
                          f"evaluate-{loaded.version}",
                          tags={"eihpredict.evaluates": loaded.version,
                                "eihpredict.model_run_id": tracking["run_id"]}) as run:
            run.log_params({"data": Path(source).name, "n": result.n,
                            "events": result.events})
            table = result.metrics.set_index("metric")
            run.log_metrics({f"external_{m}": r.estimate for m, r in table.iterrows()})
            for path in result.files.values():
                run.log_artifact(path, "evaluation")
            return run.run_id
    except Exception as exc:  # the evaluation itself is written; the store is optional
        logger.warning("could not log the evaluation to MLflow (%s)", type(exc).__name__)
        return None


# --- updating -----------------------------------------------------------------------------

class UpdatedCalibrator(Calibrator):
    """A parent model's calibrator followed by a recalibration on the logit scale:
    ``p = expit(intercept + slope * logit(parent(z)))``."""

    def __init__(self, parent: Calibrator, intercept: float, slope: float) -> None:
        self.method = "updated"
        self.parent = parent
        self.intercept = float(intercept)
        self.slope = float(slope)

    def parameters(self) -> dict[str, float]:
        return {"update_intercept": self.intercept, "update_slope": self.slope,
                **{f"parent_{k}": v for k, v in self.parent.parameters().items()}}

    def predict(self, z: np.ndarray) -> np.ndarray:
        p = np.clip(self.parent.predict(z), _EPS, 1 - _EPS)
        return expit(self.intercept + self.slope * logit(p))


def update_model(loaded: LoadedModel, frame: pd.DataFrame, method: str,
                 out: str | os.PathLike[str], *, source: str = "cohort",
                 seed: int = 0) -> tuple[Path, dict[str, Any]]:
    """Update a model for a new population and save it as a new model directory.

    Returns the directory and the update's summary (also in its ``metadata.json`` under
    ``update``, next to ``parent_model_version``).
    """
    if method not in UPDATE_METHODS:
        raise ValueError(f"--method must be one of {', '.join(UPDATE_METHODS)}; got {method!r}")
    check_model_destination(out, {"the parent model": loaded.path})
    y = _labels(loaded, frame)
    parent = loaded.model
    meta = loaded.metadata
    rule = meta.get("threshold", {}).get("rule", "youden")
    summary: dict[str, Any] = {"method": method, "n": int(len(y)), "events": int(y.sum()),
                               "data": Path(source).name}
    if method in ("intercept", "logistic"):
        lp = logit(np.clip(parent.predict_proba(frame), _EPS, 1 - _EPS))
        fit = (recalibrate_intercept if method == "intercept" else recalibrate_logistic)(lp, y)
        calibrator = UpdatedCalibrator(parent.calibrator, fit.intercept, fit.slope)
        p_new = calibrator.predict(parent.raw_log_odds(frame))
        threshold = choose_threshold(y, p_new, rule) if rule in ("youden", "prevalence") \
            else parent.threshold
        model = dataclasses.replace(parent, calibrator=calibrator, threshold=float(threshold))
        summary.update(intercept=fit.intercept, slope=fit.slope,
                       intercept_se=fit.intercept_se, slope_se=fit.slope_se)
    else:
        config = PipelineConfig.model_validate(meta["config"])
        candidate = config.candidate(meta["candidate"])
        X = frame.drop(columns=[c for c in OUTCOME_COLUMNS if c in frame])
        fitted = fit_candidate(candidate, config, X, y, seed=seed)
        model = fitted.model
        summary.update(hyperparameters=fitted.params)
    created = datetime.now(UTC)
    version = f"{meta['config_name']}-{method}-{created:%Y%m%dT%H%M%SZ}"
    metadata = {**meta, "model_version": version, "created": created.isoformat(),
                "parent_model_version": loaded.version, "update": summary,
                "threshold": {**meta.get("threshold", {}), "value": model.threshold},
                "calibration": {"method": "updated" if method != "refit" else
                                meta.get("calibration", {}).get("method"),
                                **model.calibrator.parameters()},
                "features": model.feature_names}
    metadata.pop("mlflow", None)
    card = _updated_card(loaded, summary, version, model.threshold)
    with tempfile.TemporaryDirectory() as tmp:
        plots = {}
        for name in ("roc.png", "calibration.png", "decision_curve.png"):
            src = loaded.path / "plots" / name
            if src.exists():
                plots[name] = Path(tmp) / name
                plots[name].write_bytes(src.read_bytes())
        example = frame[[c for c in ["participant_id", *model.input_columns]
                         if c in frame]].head(3)
        path = save_model_dir(model, out, metadata=metadata, model_card=card,
                              input_example=example, plots=plots)
    return path, summary


def _updated_card(loaded: LoadedModel, summary: dict[str, Any], version: str,
                  threshold: float) -> str:
    parent_card = (loaded.path / "model_card.md").read_text()
    how = {"intercept": "calibration-in-the-large re-estimated (logit p_new = a + logit p)",
           "logistic": "logistic recalibration (logit p_new = a + b logit p)",
           "refit": "the candidate fitted again on the new data (tuning and calibration "
                    "in nested folds as in development)"}[summary["method"]]
    lines = ["# Model card: updated model", "",
             f"**This model is an update of `{loaded.version}`** for a new population "
             f"(TRIPOD+AI item 'model updating').", "",
             f"- Version: `{version}`",
             f"- Method: `{summary['method']}`: {how}",
             f"- Update data: `{summary['data']}`, {summary['n']} rows, {summary['events']} "
             "events"]
    if "intercept" in summary:
        lines.append(f"- Estimates: intercept {summary['intercept']:.3f} "
                     f"(SE {summary['intercept_se']:.3f}), slope {summary['slope']:.3f}")
    lines += [f"- Decision threshold: {threshold:.3f}",
              "- Evaluate the updated model on data it was not updated on "
              "(`eihpredict evaluate`) before use: the figures below are the parent's "
              "development figures.", "", "---", "", "## The parent model's card", "",
              parent_card]
    return "\n".join(lines)
