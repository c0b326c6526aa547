"""The biomarker report: ``eihpredict explain --model DIR --data FILE --out DIR``.

Writes ``biomarkers.csv`` (contract section 3 columns first), ``interactions.csv``,
``subgroup_importance.csv``, ``subgroup_performance.csv``, the plots (beeswarm,
importance with intervals, dependence plots of the top features, interaction heat
map) and one self-contained ``report.html`` (images embedded), and logs them to the
model's MLflow run when its tracking store is reachable.
"""

from __future__ import annotations

import base64
import html
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..labels import LabelRule, make_labels
from ..model_dir import LoadedModel
from ..modeling import THREE_CLASSES
from ..schema import OUTCOME_COLUMNS
from ._biomarkers import BiomarkerReport, discover_biomarkers, interaction_strengths
from ._shap import explain_frame, group_contributions

__all__ = ["ExplainResult", "explain_model"]

logger = logging.getLogger("eihpredict.explain")
CONTRACT_COLUMNS = ["feature", "group", "importance", "ci_low", "ci_high",
                    "selection_frequency", "is_biomarker"]


@dataclass
class ExplainResult:
    biomarkers: BiomarkerReport
    interactions: pd.DataFrame
    subgroup_importance: pd.DataFrame
    out: Path
    files: dict[str, Path]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: What a SHAP value is in, per task (axis labels and titles).
UNITS = {"binary": "log-odds of impaired EIH", "continuous": "kPa of predicted PPT change",
         "three_class": "logit of hyperalgesia"}


def plot_importance(report: BiomarkerReport, path: Path, unit: str = UNITS["binary"]) -> Path:
    plt = _pyplot()
    groups = report.groups.sort_values("importance")
    shadow_cols = [c for c in report.group_draws.columns if c.startswith("shadow__")]
    shadow_max = report.group_draws[shadow_cols].max(axis=1)
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(groups) + 1.5))
    colors = ["tab:green" if b else "tab:grey" for b in groups["is_biomarker"]]
    ax.barh(groups["group"], groups["importance"], color=colors, alpha=0.8)
    ax.errorbar(groups["importance"], groups["group"],
                # A mean can lie outside its percentile interval (skewed draws, e.g. a
                # null cohort): the bar then shows the interval's side only, never < 0.
                xerr=[(groups["importance"] - groups["ci_low"]).clip(lower=0),
                      (groups["ci_high"] - groups["importance"]).clip(lower=0)],
                fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axvspan(shadow_max.quantile(0.025), shadow_max.quantile(0.975), color="tab:red",
               alpha=0.15, label="null: best shadow group (95 % range)")
    for y, (imp, freq) in enumerate(zip(groups["ci_high"], groups["selection_frequency"],
                                        strict=True)):
        ax.text(imp, y, f"  {freq:.0%}", va="center", fontsize=8)
    ax.set(xlabel=f"mean |SHAP| ({unit}), 95 % interval over resamples",
           title=f"Biomarker groups (green = declared; % = selection frequency, "
                 f"B = {report.resamples})")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_beeswarm(values: pd.DataFrame, data: pd.DataFrame, base: float, path: Path,
                  unit: str = UNITS["binary"]) -> Path:
    import shap

    plt = _pyplot()
    explanation = shap.Explanation(values=values.to_numpy(), base_values=np.full(len(values),
                                   base), data=data.to_numpy(dtype="float64"),
                                   feature_names=list(values.columns))
    plt.figure(figsize=(7, 7))
    shap.plots.beeswarm(explanation, max_display=15, show=False)
    fig = plt.gcf()
    fig.suptitle(f"SHAP values of the model ({unit})", fontsize=10)
    return _save(fig, path)


def plot_dependence(values: pd.DataFrame, data: pd.DataFrame, features: list[str],
                    path: Path, unit: str = UNITS["binary"]) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(features), figsize=(3.3 * len(features), 3.2),
                             squeeze=False)
    for ax, name in zip(axes[0], features, strict=True):
        ax.scatter(data[name], values[name], s=6, alpha=0.5)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(xlabel=name, ylabel=f"SHAP ({unit})")
    fig.suptitle("Dependence of the top features", fontsize=10)
    return _save(fig, path)


def plot_interactions(matrix: pd.DataFrame, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(matrix.to_numpy(), cmap="viridis")
    ax.set_xticks(range(len(matrix)), matrix.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix)), matrix.index, fontsize=8)
    fig.colorbar(image, ax=ax, label="mean |SHAP interaction|")
    ax.set_title("Interactions between source groups")
    return _save(fig, path)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0,
                         classes="t", na_rep="")


def _html(loaded: LoadedModel, report: BiomarkerReport, interactions: pd.DataFrame,
          subgroup_importance: pd.DataFrame, plots: dict[str, Path], n_rows: int) -> str:
    meta = loaded.metadata
    groups = report.groups[["group", "importance", "ci_low", "ci_high", "selection_frequency",
                            "is_biomarker", "p_value"]]
    features = report.table[(report.table["level"] == "feature")].head(20)[
        ["feature", "group", "importance", "ci_low", "ci_high", "selection_frequency",
         "is_biomarker", "direction"]]
    subgroups = pd.DataFrame(meta.get("validation", {}).get("subgroups", []))
    declared = ", ".join(report.declared_groups) or "none"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Biomarker report: {html.escape(loaded.version)}</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table.t{border-collapse:collapse;font-size:13px}table.t td,table.t th{padding:3px 8px;"
        "border-bottom:1px solid #ddd;text-align:right}h2{margin-top:1.6em}"
        ".note{color:#555;font-size:14px}</style></head><body>",
        f"<h1>Biomarker report</h1><p class='note'>Model <b>{html.escape(loaded.version)}"
        f"</b> ({html.escape(meta['candidate'])}, {html.escape(meta['kind'])}); "
        f"{n_rows} participants; label: {html.escape(meta['label_rule']['description'])}.</p>",
        f"<h2>Declared biomarker groups: {html.escape(declared)}</h2>",
        f"<p class='note'>Selector: {html.escape(report.selector)}. {report.resamples} "
        "bootstrap refits, each with a permuted (shadow) copy of every feature. A group is "
        "declared when it beats the best shadow group in significantly more than half of the "
        f"refits (binomial test, Bonferroni over groups, family-wise error {report.alpha}). "
        "What would change the conclusion: a smaller cohort, fewer resamples, or a "
        "measurement that only proxies another one (it is shrunk, not declared).</p>",
        _table(groups), _img(plots["importance"]),
        "<h2>Features (top 20 by importance)</h2>",
        "<p class='note'>direction: does a higher value raise or lower the risk of "
        f"{'hyperalgesia' if meta.get('task') == 'three_class' else 'impaired EIH'} "
        "(Spearman sign of value vs SHAP).</p>", _table(features),
        "<h2>What the model uses</h2>",
        f"<p class='note'>SHAP values in {UNITS[meta.get('task', 'binary')]}"
        + (" (one beeswarm per class below)" if meta.get("task") == "three_class" else "")
        + ".</p>", _img(plots["beeswarm"]), _img(plots["dependence"]),
        *[_img(path) for name, path in plots.items() if name.startswith("beeswarm_")],
    ]
    if "interactions" in plots:
        parts += ["<h2>Strongest interactions</h2>", _table(interactions.head(10), 4),
                  _img(plots["interactions"])]
    else:
        parts += ["<h2>Interactions</h2><p class='note'>A linear model has no interactions "
                  "beyond those given as features.</p>"]
    if meta["kind"] == "ensemble" and "interactions" in plots:
        parts.insert(-2, "<p class='note'>Interactions of the ensemble's LightGBM member.</p>")
    parts += ["<h2>Importance by subgroup</h2>",
              "<p class='note'>Mean |SHAP| of each source group within each pain population "
              "and sex (the field asks for stratification by pain phenotype).</p>",
              _table(subgroup_importance)]
    if not subgroups.empty:
        parts += ["<h2>Performance by subgroup (outer cross-validation)</h2>",
                  _table(subgroups)]
    parts += ["<p class='note'>Research software, not a medical device. Simulated data is "
              "not evidence.</p></body></html>"]
    return "\n".join(parts)


def explain_model(loaded: LoadedModel, data: pd.DataFrame, out: str | os.PathLike[str], *,
                  resamples: int = 30, seed: int = 0, selector: str = "auto", n_jobs: int = 2,
                  on_progress=None, log_to_mlflow: bool = True) -> ExplainResult:
    """Write the biomarker report for a model and a labelled, validated cohort."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = loaded.model
    missing = [c for c in model.input_columns if c not in data.columns]
    if missing:
        raise ValueError(f"the data lacks column(s) the model needs: {', '.join(missing)}")
    rule = LabelRule(**{k: v for k, v in loaded.metadata["label_rule"].items()
                        if k != "description"})
    y = make_labels(data, rule).to_numpy()
    # Outcome columns are dropped, except a covariate the model reads (the pre-exercise
    # PPT of a covariate-adjusted continuous model: its SHAP values are the adjusted's).
    X = data.drop(columns=[c for c in OUTCOME_COLUMNS
                           if c in data and c not in model.optional_columns])
    task = model.task
    unit = UNITS[task]
    logger.info("resampling: %d bootstrap refits with shadow features", resamples)
    report = discover_biomarkers(model, X, y, resamples=resamples, seed=seed,
                                 selector=selector, n_jobs=n_jobs, on_progress=on_progress)
    logger.info("declared groups: %s", ", ".join(report.declared_groups) or "none")
    # Three classes: the report shows the hyperalgesia logit (the flare clinicians most
    # want to foresee), and one beeswarm per class.
    explanation = explain_frame(model, X, output=2 if task == "three_class" else None)
    interactions, matrix = interaction_strengths(model, X, seed=seed)
    by_group = group_contributions(explanation.values).abs()
    rows = []
    for column in ("population", "sex", "site"):
        if column in X:
            levels = X[column].astype("object").fillna("missing")
            means = by_group.groupby(levels.to_numpy()).mean()
            for level, row in means.iterrows():
                rows.append({"variable": column, "level": level,
                             "n": int((levels == level).sum()), **row.round(4).to_dict()})
    subgroup_importance = pd.DataFrame(rows)
    files = {}
    table = report.table[CONTRACT_COLUMNS + [c for c in report.table.columns
                                             if c not in CONTRACT_COLUMNS]]
    for name, frame in (("biomarkers.csv", table), ("interactions.csv", interactions),
                        ("subgroup_importance.csv", subgroup_importance)):
        frame.to_csv(out / name, index=False)
        files[name] = out / name
    subgroups = pd.DataFrame(loaded.metadata.get("validation", {}).get("subgroups", []))
    subgroups.to_csv(out / "subgroup_performance.csv", index=False)
    files["subgroup_performance.csv"] = out / "subgroup_performance.csv"
    top = (explanation.values.abs().mean().sort_values(ascending=False).index[:4].tolist())
    plots = {
        "importance": plot_importance(report, out / "importance.png", unit),
        "beeswarm": plot_beeswarm(explanation.values, explanation.data,
                                  explanation.base_value, out / "beeswarm.png", unit),
        "dependence": plot_dependence(explanation.values, explanation.data, top,
                                      out / "dependence.png", unit),
    }
    if task == "three_class":
        for j, name in enumerate(THREE_CLASSES[:2]):
            per_class = explain_frame(model, X, output=j)
            plots[f"beeswarm_{name}"] = plot_beeswarm(
                per_class.values, per_class.data, per_class.base_value,
                out / f"beeswarm_{name}.png", f"logit of {name.replace('_', ' ')}")
    if not matrix.empty:
        plots["interactions"] = plot_interactions(matrix, out / "interactions.png")
    files.update({p.name: p for p in plots.values()})
    report_path = out / "report.html"
    report_path.write_text(_html(loaded, report, interactions, subgroup_importance, plots,
                                 len(X)), encoding="utf-8")
    files["report.html"] = report_path
    if log_to_mlflow:
        _log(loaded.metadata, out)
    return ExplainResult(report, interactions, subgroup_importance, out, files)


def _log(metadata: dict[str, Any], out: Path) -> None:
    from ..tracking import log_to_run

    info = metadata.get("mlflow")
    if not info:
        return
    try:
        log_to_run(info["tracking_uri"], info["run_id"], out, "explain")
        logger.info("logged the report to MLflow run %s", info["run_id"])
    except Exception as exc:  # the store may be gone or elsewhere; the files are written
        logger.warning("could not log the report to MLflow run %s: %s", info["run_id"], exc)
