"""The biomarker report: ``eihpredict explain --model DIR --data FILE --out DIR``.

Writes ``biomarkers.csv`` (contract section 3 columns first), ``adjusted_effects.csv``
(odds ratios per SD or category with 95 % intervals), ``interactions.csv``,
``subgroup_importance.csv``, ``subgroup_performance.csv``, with ``--replicate`` also
``replication.csv``; the plots (importance with intervals, adjusted effects, beeswarm,
dependence plots of the top measured variables, interaction heat map) and one
self-contained ``report.html`` (images embedded), and logs them to the model's MLflow
run when its tracking store is reachable.
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
from ..modeling import TASKS, THREE_CLASSES, get_task
from ..schema import OUTCOME_COLUMNS
from ._biomarkers import BiomarkerReport, discover_biomarkers, interaction_strengths, replicate
from ._discovery import variable_of
from ._shap import explain_frame, group_contributions

__all__ = ["REPORT_FILES", "ExplainResult", "explain_model"]

#: The files ``explain`` may write into its report directory; an input there by one of
#: these names is refused.
REPORT_FILES = ("biomarkers.csv", "adjusted_effects.csv", "interactions.csv",
                "subgroup_importance.csv", "replication.csv", "subgroup_performance.csv",
                "importance.png", "adjusted_effects.png", "beeswarm.png", "dependence.png",
                "interactions.png", "report.html",
                *(f"beeswarm_{name}.png" for name in THREE_CLASSES[:2]))

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
    replication: pd.DataFrame | None = None


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
UNITS = {name: task.explanation_unit for name, task in TASKS.items()}


def plot_importance(report: BiomarkerReport, path: Path, unit: str = UNITS["binary"]) -> Path:
    plt = _pyplot()
    groups = report.groups.sort_values("importance")
    shadow_cols = [c for c in report.group_draws.columns if c.startswith("shadow__")]
    shadow_max = report.group_draws[shadow_cols].max(axis=1)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(groups) + 1.8))
    roles = groups["role"] if "role" in groups else pd.Series("candidate", index=groups.index)
    colors = ["tab:green" if b else "tab:blue" if r == "stratifier" else "tab:grey"
              for b, r in zip(groups["is_biomarker"], roles, strict=True)]
    ax.barh(groups["group"], groups["importance"], color=colors, alpha=0.8)
    ax.errorbar(groups["importance"], groups["group"],
                # A mean can lie outside its percentile interval (skewed draws, e.g. a
                # null cohort): the bar then shows the interval's side only, never < 0.
                xerr=[(groups["importance"] - groups["ci_low"]).clip(lower=0),
                      (groups["ci_high"] - groups["importance"]).clip(lower=0)],
                fmt="none", ecolor="black", capsize=3, lw=1)
    if len(shadow_cols):
        ax.axvspan(shadow_max.quantile(0.025), shadow_max.quantile(0.975), color="tab:red",
                   alpha=0.15, label="marginal null reference: best permuted copy "
                   "(95 % range; not the decision)")
    p_adjusted = groups["p_adjusted"] if "p_adjusted" in groups else groups["ci_high"] * np.nan
    for y, (right, p, role) in enumerate(zip(groups["ci_high"], p_adjusted, roles,
                                             strict=True)):
        label = "stratifier" if role == "stratifier" else (
            f"p_adj {p:.2g}" if np.isfinite(p) else "")
        ax.text(right, y, f"  {label}", va="center", fontsize=8)
    ax.set(xlabel=f"mean |SHAP| ({unit}), 95 % interval over {report.resamples} resamples",
           title="Biomarker groups (green = declared by the conditional test, "
                 f"{'Holm' if report.control == 'fwer' else 'BH'} at {report.alpha:g})")
    ax.title.set_fontsize(10)
    if len(shadow_cols):
        ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)


def plot_effects(effects: pd.DataFrame, path: Path, continuous: bool = False) -> Path:
    """Forest plot of the adjusted effects (log scale for odds ratios)."""
    plt = _pyplot()
    frame = effects.iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(frame), 1) + 1.5))
    y = np.arange(len(frame))
    ax.errorbar(frame["estimate"], y, xerr=[frame["estimate"] - frame["ci_low"],
                                            frame["ci_high"] - frame["estimate"]],
                fmt="o", color="black", ecolor="grey", capsize=2, ms=4)
    ax.axvline(0.0 if continuous else 1.0, color="tab:red", lw=0.8)
    labels = [f"{v}: {p}" if t != v else f"{v}, per {p}"
              for t, v, p in zip(frame["term"], frame["variable"], frame["per"], strict=True)]
    ax.set_yticks(y, labels, fontsize=7)
    if not continuous:
        ax.set_xscale("log")
    measure = frame["measure"].iloc[0] if len(frame) else ""
    ax.set(xlabel=f"adjusted {measure} (95 % interval)",
           title="Adjusted effects, each given all the other groups")
    ax.title.set_fontsize(10)
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
          subgroup_importance: pd.DataFrame, plots: dict[str, Path], n_rows: int,
          replication: pd.DataFrame | None = None) -> str:
    meta = loaded.metadata
    groups = report.groups[["group", "role", "df", "p_value", "p_adjusted", "is_biomarker",
                            "importance", "ci_low", "ci_high", "selection_frequency"]]
    features = report.table[(report.table["level"] == "feature")].head(25)[
        ["feature", "group", "is_biomarker", "p_adjusted", "direction", "effect",
         "effect_ci_low", "effect_ci_high", "effect_per", "importance", "ci_low", "ci_high"]]
    subgroups = pd.DataFrame(meta.get("validation", {}).get("subgroups", []))
    declared = ", ".join(report.declared_groups) or "none"
    tests = report.tests
    factor = f"{tests.calibration:.3f}" if tests is not None else "1"
    rule = ("Holm's step-down procedure (family-wise error"
            if report.control == "fwer" else "Benjamini-Hochberg (false discovery rate")
    risk = get_task(meta.get("task", "binary")).event_short
    stratifiers = report.groups.loc[report.groups["role"] == "stratifier", "group"].tolist()
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
        "<p class='note'><b>How a group is declared.</b> Each group is tested given all the "
        "other groups: likelihood-ratio tests of a generalised linear model on the model's "
        "features (the group's columns together, and each of its variables), combined by "
        "Bonferroni within the group, calibrated for the number of columns by a parametric "
        f"bootstrap under the group's null (factor {factor}), then {rule} "
        f"{report.alpha:g}) over the groups. The error rate is that of the test, whatever "
        "the number of resamples. A variable is declared when its group is and its own "
        "test survives the same rule over all variables. A group that only proxies a "
        "declared one adds nothing given it and is not declared."
        + (f" <b>Stratifiers</b> ({html.escape(', '.join(stratifiers))}) stay in every "
           "model as adjustments and are reported, never declared: a diagnosis is a "
           "stratum, not a biomarker." if stratifiers else "") + "</p>",
        _table(groups), _img(plots["importance"]),
        f"<p class='note'><b>Importance</b> (bars): mean |SHAP| of the selector "
        f"({html.escape(report.selector)}) on out-of-bag rows over {report.resamples} "
        "bootstrap refits, with its 95 % interval. The red band is a marginal null "
        "reference: the importance that the best of the permuted copies of the features "
        "reaches. It shows what noise looks like; it does not decide (a proxy beats it). "
        "selection_frequency: share of refits in which the group beats that best "
        "copy.</p>",
        "<h2>Variables and adjusted effects</h2>",
        f"<p class='note'>effect: adjusted {html.escape(_measure(report))} given all the "
        "other groups, per SD of the observed values (per category against the most "
        f"frequent one), with its 95 % interval; direction: does a higher value raise or "
        f"lower the risk of {risk} (unclear when the interval holds the null value). "
        "One-hot categories and missing indicators are merged into their variable. All "
        "terms: adjusted_effects.csv.</p>", _table(features), _img(plots["effects"]),
    ]
    if replication is not None:
        confirmed = int(replication["replicated"].sum()) if len(replication) else 0
        parts += ["<h2>Replication</h2>",
                  f"<p class='note'>The declared groups and variables tested again on the "
                  f"replication cohort, given the other groups ({rule} {report.alpha:g}) "
                  "among them); a variable is confirmed when it survives and its effect "
                  f"points the same way. Confirmed: {confirmed} of {len(replication)}.</p>",
                  _table(replication)]
    parts += [
        "<h2>What the model uses</h2>",
        f"<p class='note'>SHAP values in {UNITS[meta.get('task', 'binary')]}"
        + (" (one beeswarm per class below)" if get_task(meta.get("task", "binary")).n_outputs
           else "")
        + "; dependence plots of the top measured variables.</p>",
        _img(plots["beeswarm"]), _img(plots["dependence"]),
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


def _measure(report: BiomarkerReport) -> str:
    if report.effects is None or report.effects.empty:
        return "effect"
    return str(report.effects["measure"].iloc[0])


def measured_variables(names, data: pd.DataFrame) -> list[str]:
    """Features that are a measured value (no one-hot level, no missing indicator, not
    a 0/1 flag): the ones a dependence plot can show."""
    out = []
    for name in names:
        values = data[name].dropna()
        if (name.endswith("_missing") or variable_of(name) != name
                or values.nunique() <= 2):
            continue
        out.append(name)
    return out


def explain_model(loaded: LoadedModel, data: pd.DataFrame, out: str | os.PathLike[str], *,
                  resamples: int = 30, seed: int = 0, selector: str = "auto", n_jobs: int = 2,
                  alpha: float = 0.05, control: str = "fwer",
                  replicate_data: pd.DataFrame | None = None,
                  on_progress=None, log_to_mlflow: bool = True) -> ExplainResult:
    """Write the biomarker report for a model and a labelled, validated cohort.

    ``replicate_data``: a second labelled cohort on which the declared groups and
    variables are tested again (``replication.csv``; ``replication_p`` and
    ``replicated`` in ``biomarkers.csv``).
    """
    out = Path(out)
    model = loaded.model
    rule = LabelRule(**{k: v for k, v in loaded.metadata["label_rule"].items()
                        if k != "description"})
    X, y = _cohort(model, data, rule, "the data")
    second = None
    if replicate_data is not None:
        second = _cohort(model, replicate_data, rule, "the replication data")
    out.mkdir(parents=True, exist_ok=True)
    task = model.task
    unit = UNITS[task]
    logger.info("conditional tests, then %d bootstrap refits with shadow features",
                resamples)
    report = discover_biomarkers(model, X, y, resamples=resamples, seed=seed,
                                 selector=selector, alpha=alpha, control=control,
                                 n_jobs=n_jobs, on_progress=on_progress)
    logger.info("declared groups: %s", ", ".join(report.declared_groups) or "none")
    replication = None
    table = report.table
    if second is not None:
        replication = replicate(report, model, *second, seed=seed)
        found = replication.set_index(["level", "feature"])
        keys = list(zip(table["level"], table["feature"], strict=True))
        table = table.assign(
            replication_p=[found["replication_p_adjusted"].get(k, np.nan) for k in keys],
            replicated=[found["replicated"].get(k, pd.NA) for k in keys])
        logger.info("replicated: %d of %d declared", int(replication["replicated"].sum()),
                    len(replication))
    # Three classes: the report shows the hyperalgesia logit (the flare clinicians most
    # want to foresee), and one beeswarm per class.
    explanation = explain_frame(model, X, output=get_task(task).explain_output)
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
    table = table[CONTRACT_COLUMNS + [c for c in table.columns if c not in CONTRACT_COLUMNS]]
    outputs = [("biomarkers.csv", table), ("adjusted_effects.csv", report.effects),
               ("interactions.csv", interactions),
               ("subgroup_importance.csv", subgroup_importance)]
    if replication is not None:
        outputs.append(("replication.csv", replication))
    for name, frame in outputs:
        frame.to_csv(out / name, index=False)
        files[name] = out / name
    subgroups = pd.DataFrame(loaded.metadata.get("validation", {}).get("subgroups", []))
    subgroups.to_csv(out / "subgroup_performance.csv", index=False)
    files["subgroup_performance.csv"] = out / "subgroup_performance.csv"
    ranked = explanation.values.abs().mean().sort_values(ascending=False).index
    top = measured_variables(ranked, explanation.data)[:4] or list(ranked[:1])
    plots = {
        "importance": plot_importance(report, out / "importance.png", unit),
        "effects": plot_effects(report.effects, out / "adjusted_effects.png",
                                continuous=get_task(task).glm == "gaussian"),
        "beeswarm": plot_beeswarm(explanation.values, explanation.data,
                                  explanation.base_value, out / "beeswarm.png", unit),
        "dependence": plot_dependence(explanation.values, explanation.data, top,
                                      out / "dependence.png", unit),
    }
    if get_task(task).n_outputs:  # one beeswarm per class: the others below
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
                                 len(X), replication), encoding="utf-8")
    files["report.html"] = report_path
    if log_to_mlflow:
        _log(loaded.metadata, out)
    return ExplainResult(report, interactions, subgroup_importance, out, files, replication)


def _cohort(model, data: pd.DataFrame, rule: LabelRule, what: str):
    missing = [c for c in model.input_columns if c not in data.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) the model needs: {', '.join(missing)}")
    y = make_labels(data, rule).to_numpy()
    # Outcome columns are dropped, except a covariate the model reads (the pre-exercise
    # PPT of a covariate-adjusted continuous model: its SHAP values are the adjusted's).
    X = data.drop(columns=[c for c in OUTCOME_COLUMNS
                           if c in data and c not in model.optional_columns])
    return X, y


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
