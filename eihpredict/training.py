"""``train``: a config and a cohort file in, a validated and tracked model directory out.

Application layer: it uses the library (features, modeling, model_dir, tracking,
model_card) and is used by the CLI, the demo and notebooks.

Steps, each logged: validate the data against the contract; make labels; report the
Riley minimum sample size; nested CV of every candidate; metrics with 95 % intervals,
plots; choose the final candidate by the outer-CV ``selection_metric``; refit it on all
rows; write the model directory; log everything to one MLflow parent run.

The task follows the label rule (``config.task``): binary, continuous (the PPT change;
metrics of the change, its prediction interval and the derived P(impaired EIH)) or
three classes (per-class and macro metrics); metrics, plots, the selection metric, the
metadata and the model card follow it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._manifest import manifest_digest
from .cohort_io import ReadOptions, write_table
from .config import PipelineConfig
from .features import build_feature_pipeline
from .fileio import same_file, sha256_file
from .labels import (
    hypoalgesic_change,
    label_report,
    make_labels,
    regression_to_the_mean,
    unlabelled,
)
from .mapping import StudyMapping
from .model_card import render_model_card
from .model_dir import check_model_destination, save_model_dir
from .modeling import (
    PRE_COVARIATE,
    SELECTED,
    FittedCandidate,
    HeterogeneityTest,
    OuterResult,
    SampleSize,
    decision_curve,
    fit_candidate,
    forest_plot,
    get_task,
    meta_summary,
    minimum_sample_size,
    plot_decision_curves,
    pool_site_performance,
    run_outer_cv,
    select_candidate,
    site_performance,
    subgroup_metrics,
)
from .prescribe import (
    PRESCRIPTION_ARTIFACT,
    fit_prescription,
    prescription_metadata,
    wants_prescription,
)
from .schema import COLUMN_BY_NAME, CONTRACT_VERSION, OUTCOME_COLUMNS
from .sessions import describe_design, has_sessions, participant_groups
from .tracking import package_versions, resolve_tracking_uri, training_run
from .validation import read_cohort, read_valid_cohort

__all__ = ["TrainingResult", "format_results", "train"]

logger = logging.getLogger("eihpredict.train")

@dataclass
class TrainingResult:
    """What a training produced."""

    config: PipelineConfig
    metrics: dict[str, pd.DataFrame]
    decision_curves: dict[str, pd.DataFrame]
    outer: OuterResult
    final: FittedCandidate
    chosen: str
    sample_size: SampleSize
    data_summary: dict[str, Any]
    model_dir: Path | None = None
    run_id: str | None = None
    tracking_uri: str | None = None
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame)
    mapping: StudyMapping | None = None
    task: str = "binary"
    metrics_without_covariate: dict[str, pd.DataFrame] = field(default_factory=dict)
    prescription: dict[str, Any] | None = None
    prescription_refits: list | None = None

    def metrics_table(self) -> pd.DataFrame:
        """Candidates x metrics, each cell ``estimate (low-high)``."""
        rows = {}
        for name, table in self.metrics.items():
            rows[name] = {m: f"{r.estimate:.3f} ({r.ci_low:.3f}-{r.ci_high:.3f})"
                          for m, r in table.iterrows()}
        return pd.DataFrame(rows).T


def impaired_event(config: PipelineConfig, y: np.ndarray) -> np.ndarray:
    """Impaired EIH (0/1) under the config's rule: the label itself (binary), ``change <=
    threshold_kpa`` (continuous), no change or hyperalgesia (three classes)."""
    return get_task(config.task).impaired_event(y, config.label)


def summarise(frame: pd.DataFrame, y: np.ndarray, config: PipelineConfig | None = None
              ) -> dict[str, Any]:
    """Training data summary for the metadata and model card (no individual rows)."""
    event = y if config is None else impaired_event(config, y)
    summary: dict[str, Any] = {"n_rows": len(frame), "n_impaired": int(event.sum()),
                               "prevalence": round(float(event.mean()), 4)}
    if config is not None:
        summary.update(get_task(config.task).summary(y))
    for col in ("population", "sex", "site", "exercise_modality"):
        if col in frame:
            counts = frame[col].astype("object").fillna("missing").value_counts()
            summary[col] = {str(k): int(v) for k, v in counts.items()}
    numeric = [c for c in ("age_years", "ppt_local_kpa", "eih_ppt_pre_kpa") if c in frame]
    summary["numeric"] = {c: {"median": round(float(frame[c].median()), 2),
                              "missing": int(frame[c].isna().sum())} for c in numeric}
    return summary


def train(config: PipelineConfig, data: str | os.PathLike[str], *,
          out: str | os.PathLike[str] | None = None, tracking_uri: str | None = None,
          storage: str | None = None, track: bool = True, scheduler: str | None = None,
          mapping: StudyMapping | None = None,
          read_options: ReadOptions | None = None, drop_invalid: bool = False,
          dropped: str | os.PathLike[str] | None = None) -> TrainingResult:
    """Train, validate and save a model as the config describes.

    Parameters
    ----------
    config : PipelineConfig
    data : path-like
        Cohort CSV or Parquet with the EIH outcome columns.
    out : path-like, optional
        Model directory to write (default ``models/<config name>``).
    tracking_uri : str, optional
        MLflow tracking URI (see :func:`eihpredict.tracking.resolve_tracking_uri`).
    storage : str, optional
        Optuna storage URL shared by several worker processes (``journal:PATH``, or a
        database such as ``postgresql+psycopg://user@host:port/db``).
    scheduler : str, optional
        Dask scheduler address (``tcp://host:port``) to run the outer folds on (default:
        the config's ``cv.scheduler``); the results equal a serial run's.
    track : bool
        Log to MLflow (on by default).
    mapping : StudyMapping, optional
        The study's names, codes and units onto the contract; stored in the model
        directory (``metadata.json`` and the card), so ``score``, the service and pyfunc
        apply it to files and records that use the study's names.
    read_options : ReadOptions, optional
        CSV separator and decimal mark, Excel sheet.
    drop_invalid : bool
        Train on the valid, labelled rows and write the others (as given, after ``row``
        and ``reasons``) to ``dropped`` instead of stopping at the first problem;
        file-level problems (missing columns, pressures in another unit) still stop.
        Counts and reasons (no participant data) go to the metadata and model card.
    dropped : path-like, optional
        Where ``drop_invalid`` writes the dropped rows (default ``OUT.dropped.csv``
        beside the model directory, never inside it).

    Returns
    -------
    TrainingResult
    """
    start = time.perf_counter()
    check_model_destination(_model_dir(config, out), {"the training data": data})
    logger.info("1/6 validating %s against the cohort contract", data)
    if drop_invalid:
        frame, dropped_summary = _valid_labelled_rows(config, data, out, dropped,
                                                      read_options, mapping)
    else:
        frame = read_valid_cohort(data, read_options=read_options, mapping=mapping)
        dropped_summary = None
    task = get_task(config.task)
    y = make_labels(frame, config.label).to_numpy()
    task.check_outcome(y, str(data), config.label)
    covariate = task.covariates(config)
    if covariate and PRE_COVARIATE not in frame:
        # A design file (local PPT trials, no v1 column): the covariate is the outcome's
        # pre-exercise local PPT, combined by the trial rule (the config allows only a
        # local PPT outcome with adjust_for_pre).
        frame = frame.assign(**{PRE_COVARIATE: hypoalgesic_change(frame, config.label)[1]})
    X = frame.drop(columns=[c for c in OUTCOME_COLUMNS if c in frame and c not in covariate])
    rtm = regression_to_the_mean(frame, config.label)
    if rtm["fires"] and rtm["column"] in X:
        # The outcome's own pre value as a predictor creates regression-to-the-mean
        # signal: it is left out of the predictors (the model card says so).
        logger.warning("    %s is the outcome's pre-exercise PPT (%s): left out of the "
                       "predictors to avoid regression-to-the-mean signal; measure "
                       "baseline separately or model the change (label rule continuous)",
                       rtm["column"], "declared" if rtm["declared"] else
                       f"equal in {rtm['share_equal']:.0%} of rows")
        X = X.drop(columns=[rtm["column"]])
        rtm["action"] = f"{rtm['column']} left out of the predictors"
    if covariate:
        rtm["ancova"] = (f"the change is modelled with {PRE_COVARIATE} as a covariate "
                         "(ANCOVA), which adjusts for regression to the mean")
    fingerprint = sha256_file(data)
    event = impaired_event(config, y)
    summary = summarise(frame, y, config)
    if "session_id" in frame:  # repeated sessions (contract v3): the design, grouped CV
        summary["design"] = describe_design(frame).to_dict()
        if has_sessions(frame):
            logger.info("    %s; every split groups by participant",
                        describe_design(frame).describe())
    summary["labels"] = label_report(frame, config.label)
    summary["regression_to_the_mean"] = rtm
    if dropped_summary is not None:
        summary["dropped_rows"] = dropped_summary
    logger.info("    %d rows, %d impaired (%.1f %%), label: %s", len(y), event.sum(),
                100 * event.mean(), config.label.describe())
    for line in task.summary_lines(summary, config, bool(covariate)):
        logger.info("%s", line)

    logger.info("2/6 sample size (Riley et al. 2020)")
    # Candidate parameters: the widest design matrix (linear: with missing indicators).
    try:
        n_params = len(build_feature_pipeline(config.features.groups, model_kind="linear",
                                              options=config.features.options)
                       .fit(X).get_feature_names_out())
    except ValueError as exc:  # a configured group whose columns the data lacks
        raise ValueError(f"pipeline {config.name!r} cannot use {data}: {exc}") from None
    n_params += len(covariate)
    # The binary event the task's sample size is read for (Task.sample_size_event).
    sized, summary["sample_size_event"] = task.sample_size_event(y, config.label)
    sample_size = minimum_sample_size(max(min(float(sized.mean()), 0.99), 0.01),
                                      config.anticipated_c_statistic, n_params)
    message = (f"    {n_params} candidate parameters, anticipated C "
               f"{config.anticipated_c_statistic}: minimum {sample_size.minimum_n} rows "
               f"({sample_size.minimum_events} events of {summary['sample_size_event']}); "
               f"cohort has {len(y)} rows ({int(sized.sum())} events)")
    logger.info(message)
    if len(y) < sample_size.minimum_n:
        logger.warning("    the cohort is below the minimum development sample size "
                       "(%d < %d): expect overfitting and wide intervals", len(y),
                       sample_size.minimum_n)

    logger.info("3/6 nested cross-validation")
    prefix = f"{config.name}-{fingerprint[:12]}-s{config.seed}"
    outer = run_outer_cv(config, X, y, storage=storage, study_prefix=prefix,
                         scheduler=scheduler)

    logger.info("4/6 metrics with 95 % bootstrap intervals")
    metrics, curves = {}, {}
    participants = participant_groups(X)
    for name in outer.candidates:
        metrics[name], curves[name] = _evaluate(config, y, outer, name, clusters=participants)
    key, lower = task.selection_keys[config.selection_metric]
    eligible = [c.name for c in config.models if not c.baseline]
    scores = {n: metrics[n].loc[key, "estimate"] * (1 if lower else -1) for n in eligible}
    losses = {n: task.row_losses(config.selection_metric, y,
                                 task.selection_predictions(outer, n)) for n in eligible}
    chosen = select_candidate(config, scores, losses, participants)
    logger.info("    chosen by outer-CV %s (%s, rule %s): %s", config.selection_metric, key,
                config.selection_rule, chosen)
    without = {}
    if chosen in outer.without_covariate:
        without[chosen] = _evaluate(config, y, outer, chosen, without_covariate=True,
                                    clusters=participants)[0]

    logger.info("5/6 refitting %s on all %d rows", chosen, len(y))
    candidate = next(c for c in config.models if c.name == chosen)
    final = fit_candidate(candidate, config, X, y, seed=config.seed, storage=storage,
                          study_name=f"{prefix}-final-{chosen}" if storage else None)

    refits, prescription = None, None
    n_boot = wants_prescription(config, frame)
    if n_boot and "p_impaired_eih" in final.model.output_columns:
        logger.info("    prescription: %d participant-level bootstrap refits of %s", n_boot,
                    chosen)
        refits = fit_prescription(candidate, config, X, y, final.params, n_boot=n_boot,
                                  seed=config.seed)
        prescription = prescription_metadata(config, frame, impaired_event(config, y), n_boot)
        if prescription["heterogeneity"]:
            logger.info("    %s", HeterogeneityTest(**{
                k: v for k, v in prescription["heterogeneity"].items()
                if k != "heterogeneous"}).describe())

    subgroups = subgroup_metrics(frame, *_binary_view(config, y, outer.probabilities[chosen]),
                                 seed=config.seed, n_boot=min(config.cv.bootstrap, 200),
                                 clusters=participants)
    subgroups = task.subgroup_intervals(subgroups, frame, y, outer.outputs[chosen])
    result = TrainingResult(config=config, metrics=metrics, decision_curves=curves,
                            outer=outer, final=final, chosen=chosen, sample_size=sample_size,
                            data_summary=summary, subgroups=subgroups, task=task.name,
                            metrics_without_covariate=without, prescription=prescription,
                            prescription_refits=refits)
    logger.info("6/6 writing the model directory%s", " and logging to MLflow" if track else "")
    result.mapping = mapping
    _finish(result, X, y, data=data, fingerprint=fingerprint, out=out, track=track,
            tracking_uri=resolve_tracking_uri(tracking_uri, config.mlflow.tracking_uri),
            start=start)
    return result


def _model_dir(config: PipelineConfig, out) -> Path:
    return Path(out) if out is not None else Path("models") / config.name


def _valid_labelled_rows(config: PipelineConfig, data, out, dropped, read_options, mapping
                         ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``train --drop-invalid``: the valid rows with an outcome; the others written to
    ``dropped`` with their reasons; a summary without participant data."""
    target = (Path(dropped) if dropped is not None else
              _model_dir(config, out).with_name(_model_dir(config, out).name + ".dropped.csv"))
    if same_file(target, Path(data)):
        raise ValueError(f"{target}: the dropped-rows file would overwrite the training "
                         f"data {data}; give --dropped another name")
    if _model_dir(config, out).resolve() in target.resolve().parents:
        raise ValueError(f"{target}: the dropped rows hold participant data and may not be "
                         "written into the model directory")
    def has_outcome(typed: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
        missing = unlabelled(typed, config.label)
        return pd.DataFrame({
            "row": rows[missing], "participant_id": typed["participant_id"].to_numpy()[missing],
            "column": "outcome", "value": None,
            "rule": f"no EIH outcome under the label rule ({config.label.describe()})"})

    read = read_cohort(data, read_options=read_options, mapping=mapping,
                       row_check=has_outcome)
    frame, rejected = read.frame, read.rejected
    counts: dict[str, int] = {}
    for column in read.issues["column"]:
        counts[str(column)] = counts.get(str(column), 0) + 1
    summary = {"n": len(rejected), "file": target.name,
               "issues_by_column": dict(sorted(counts.items(), key=lambda kv: -kv[1]))}
    target.parent.mkdir(parents=True, exist_ok=True)
    write_table(rejected, target)  # atomic; formula-like text neutralised
    if len(rejected):
        logger.warning("    %d invalid or unlabelled row(s) set aside -> %s (kept %d)",
                       len(rejected), target, len(frame))
    else:
        logger.info("    every row is valid and labelled (nothing dropped; %s holds the "
                    "header only)", target)
    return frame, summary


def missingness_by_group(model_inputs: list[str], X: pd.DataFrame) -> list[dict[str, Any]]:
    """Per source group of the model's input columns: the share of rows with every
    input of the group missing, and the share of the group's cells missing."""
    groups: dict[str, list[str]] = {}
    for column in model_inputs:
        spec = COLUMN_BY_NAME.get(column)
        if spec is not None and column != "participant_id" and column in X:
            groups.setdefault(spec.group, []).append(column)
    rows = []
    for group, columns in groups.items():
        missing = X[columns].isna().to_numpy()
        rows.append({"group": group, "columns": len(columns),
                     "rows_all_missing": round(float(missing.all(axis=1).mean()), 4),
                     "cells_missing": round(float(missing.mean()), 4)})
    return rows


def _threshold(outer: OuterResult, name: str) -> float:
    values = [f["threshold"] for f in outer.folds if f["candidate"] == name
              and f["threshold"] is not None]
    return float(np.median(values)) if values else float("nan")


def _binary_view(config: PipelineConfig, y: np.ndarray, probabilities: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The binary question a task's predictions answer for decision curves and
    subgroups: impaired EIH and its probability (binary, continuous), hyperalgesia
    against the rest (three classes: the flare clinicians most want to foresee)."""
    return get_task(config.task).binary_view(y, probabilities, config.label)


def _evaluate(config: PipelineConfig, y: np.ndarray, outer: OuterResult, name: str, *,
              without_covariate: bool = False, clusters: np.ndarray | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metrics with intervals and the decision curve of one candidate's outer predictions
    (``clusters``: participants of a repeated-session cohort, resampled whole)."""
    n_boot, seed = config.cv.bootstrap, config.seed
    threshold = _threshold(outer, name)
    if without_covariate:
        outputs = outer.without_covariate[name]
        decisions = outputs["p_impaired_eih"] >= threshold
    else:
        outputs = outer.outputs[name]
        decisions = outer.decisions[name]
    table, probabilities = get_task(config.task).validation_metrics(
        y, outer.probabilities[name], outputs, threshold,
        decisions, config.label, n_boot=n_boot, seed=seed, clusters=clusters)
    curve = decision_curve(*_binary_view(config, y, probabilities), n_boot=min(n_boot, 200),
                           seed=seed, clusters=clusters)
    return table, curve


def _plots(result: TrainingResult, y: np.ndarray, folder: Path) -> dict[str, Path]:
    """Validation plots that make sense for the task (outer-CV predictions)."""
    task = get_task(result.task)
    plots = {"decision_curve.png": plot_decision_curves(result.decision_curves,
                                                       folder / "decision_curve.png",
                                                       task.event)}
    plots.update(task.validation_plots(y, result.outer, result.metrics, result.chosen,
                                       result.config, folder, _fmt_one))
    return plots


def _finish(result: TrainingResult, X: pd.DataFrame, y: np.ndarray, *, data, fingerprint: str,
            out, track: bool, tracking_uri: str, start: float) -> None:
    config = result.config
    created = datetime.now(UTC)
    version = f"{config.name}-{created:%Y%m%dT%H%M%SZ}-{fingerprint[:8]}"
    out_dir = _model_dir(config, out)
    with tempfile.TemporaryDirectory() as tmp:
        plots = _plots(result, y, Path(tmp))
        iecv = _internal_external(config, X, y, result.outer, Path(tmp), plots)
        model = result.final.model
        metadata = {
            "model_version": version,
            "created": created.isoformat(),
            "contract_version": CONTRACT_VERSION,
            "config_name": config.name,
            "candidate": model.candidate,
            "kind": model.kind,
            "feature_groups": model.groups,
            "input_columns": model.input_columns,
            "features": model.feature_names,
            "label_rule": {**config.label.model_dump(), "description": config.label.describe()},
            "outcome_definition": config.label.outcome_definition(),
            "task": result.task,
            "output_columns": list(model.output_columns),
            "optional_columns": list(model.optional_columns),
            "threshold": {"value": None if np.isnan(model.threshold) else model.threshold,
                          "rule": get_task(result.task).threshold_rule(config)},
            "calibration": {**model.outputs_map.describe(),
                            "method": result.final.calibration_method},
            **_covariate_metadata(result),
            "plots": sorted(plots),
            "hyperparameters": result.final.params,
            "training_data": {"file": Path(data).name, "sha256": fingerprint,
                              **result.data_summary,
                              "missingness": missingness_by_group(model.input_columns, X)},
            "missing": config.missing.model_dump(),
            "validation": {
                "scheme": config.cv.scheme, "outer_folds": config.cv.outer_folds,
                "repeats": result.outer.n_repeats, "bootstrap": config.cv.bootstrap,
                "selection_metric": config.selection_metric,
                "selection_rule": config.selection_rule,
                "reported": SELECTED,
                "selected_per_fold": [f["params"]["chosen"] for f in result.outer.folds
                                      if f["candidate"] == SELECTED],
                "metrics": {name: table.round(4).to_dict(orient="index")
                            for name, table in result.metrics.items()},
                "internal_external": iecv,
                "subgroups": result.subgroups.round(4).astype(object).where(
                    result.subgroups.notna(), None).to_dict(orient="records"),
            },
            "sample_size": result.sample_size.to_dict(),
            "mapping": None if result.mapping is None else result.mapping.to_dict(),
            "config": config.model_dump(mode="json"),
            "package_versions": package_versions(),
        }
        extra = None
        if result.prescription is not None:
            metadata["prescription"] = result.prescription
            extra = {PRESCRIPTION_ARTIFACT: result.prescription_refits}
        run_id = None

        def write() -> Path:  # the one write step: the model directory, written once
            return save_model_dir(model, out_dir, metadata=metadata,
                                  model_card=render_model_card(result, metadata),
                                  input_example=X[_example_columns(model, X)].head(3),
                                  plots=plots, extra_artifacts=extra)

        if track:
            with training_run(config.mlflow.experiment, tracking_uri, version,
                              tags={"eihpredict.config": config.name,
                                    "eihpredict.chosen": result.chosen}) as run:
                run_id = run.run_id
                metadata["mlflow"] = {"tracking_uri": tracking_uri, "run_id": run_id,
                                      "experiment": config.mlflow.experiment}
                _log_run(run, result, metadata, plots, fingerprint)
                result.model_dir = write()
                digest = manifest_digest(result.model_dir)
                run.log_params({"model_dir_sha256": digest})
                run.log_model(result.model_dir)
                card = (result.model_dir / "model_card.md").read_text()
                run.log_text(card + f"\n## Model directory digest\n\n`{digest}` (SHA-256 of "
                             "`checksums.sha256`; check with `eihpredict verify --model DIR "
                             f"--digest {digest}`)\n", "model_card.md")
        else:
            result.model_dir = write()
    result.run_id = run_id
    result.tracking_uri = tracking_uri if track else None
    result.metadata = metadata
    result.seconds = time.perf_counter() - start


def _covariate_metadata(result: TrainingResult) -> dict[str, Any]:
    """A covariate-adjusted continuous model: its fallback and both validations."""
    unadjusted = result.final.unadjusted
    if unadjusted is None:
        return {}
    return {"covariate": {
        "column": PRE_COVARIATE,
        "rule": f"rows with {PRE_COVARIATE} are predicted by the adjusted (ANCOVA) model; "
                "rows without it by the same candidate fitted without it",
        "unadjusted_calibration": unadjusted.model.outputs_map.describe(),
        "unadjusted_threshold": unadjusted.model.threshold,
        "unadjusted_features": unadjusted.model.feature_names,
        "validation_without_covariate": {
            name: table.round(4).to_dict(orient="index")
            for name, table in result.metrics_without_covariate.items()},
    }}


def _internal_external(config: PipelineConfig, X: pd.DataFrame, y: np.ndarray, outer,
                       folder: Path, plots: dict[str, Path]) -> dict | None:
    """Internal-external cross-validation (leave-site-out): per-site C, slope, CITL and
    O/E of the reported procedure's predictions, pooled by random-effects meta-analysis
    (REML, Hartung-Knapp) with prediction intervals and heterogeneity; forest plots.
    Continuous: of the derived P(impaired EIH); three classes: of hyperalgesia against
    the rest."""
    if config.cv.scheme != "leave_site_out":
        return None
    event, p = _binary_view(config, y, outer.probabilities[SELECTED])
    p = p[0]
    sites = X["site"].astype(str).to_numpy()
    table = site_performance(event, p, sites)
    out: dict[str, Any] = {"sites": table.round(4).astype(object).where(
        table.notna(), None).to_dict(orient="records")}
    try:
        pooled = pool_site_performance(table)
    except ValueError as exc:  # too few sites with both outcomes
        logger.warning("    internal-external pooling skipped: %s", exc)
        out["pooled"] = None
        return out
    summary = meta_summary(pooled)
    out["pooled"] = summary.round(4).astype(object).where(summary.notna(), None).to_dict(
        orient="records")
    for measure, title in (("c_statistic", "C-statistic by site"),
                           ("calibration_slope", "Calibration slope by site")):
        if measure in pooled:
            name = f"forest_{measure}.png"
            plots[name] = forest_plot(pooled[measure], folder / name, title=title)
    return out


def _example_columns(model, X: pd.DataFrame) -> list[str]:
    names = [c for c in [*model.input_columns, *model.optional_columns]
             if c != "participant_id" and c in X.columns]
    return ["participant_id", *dict.fromkeys(names)]


def _fmt_one(table: pd.DataFrame, name: str) -> str:
    return (f"{table.loc[name, 'estimate']:.2f} ({table.loc[name, 'ci_low']:.2f}-"
            f"{table.loc[name, 'ci_high']:.2f})")


def _log_run(run, result: TrainingResult, metadata: dict, plots: dict, fingerprint: str) -> None:
    config = result.config
    run.log_params({
        "config": config.name, "seed": config.seed, "label_rule": config.label.rule,
        "task": result.task,
        "feature_groups": ",".join(metadata["feature_groups"]), "cv_scheme": config.cv.scheme,
        "outer_folds": config.cv.outer_folds, "cv_repeats": result.outer.n_repeats,
        "n_trials": config.tuning.n_trials, "tuning_metric": config.tuning.metric,
        "calibration": result.final.calibration_method, "threshold_rule": config.threshold.rule,
        "chosen": result.chosen, "data_sha256": fingerprint,
        "n_rows": result.data_summary["n_rows"],
    })
    chosen = result.metrics[result.chosen]
    run.log_metrics({f"{m}": r.estimate for m, r in chosen.iterrows()})
    run.log_metrics({f"{m}_ci_low": r.ci_low for m, r in chosen.iterrows()})
    run.log_metrics({f"{m}_ci_high": r.ci_high for m, r in chosen.iterrows()})
    run.log_metrics({"threshold": result.final.model.threshold,
                     "sample_size_minimum_n": result.sample_size.minimum_n})
    for name, table in result.metrics.items():
        flat = {f"{m}{s}": getattr(r, col) for m, r in table.iterrows()
                for s, col in (("", "estimate"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high"))}
        folds = [f for f in result.outer.folds if f["candidate"] == name]
        params = {"candidate": name, "kind": next(
            (c.kind for c in config.models if c.name == name), "selection procedure")}
        run.log_candidate(name, flat, folds, params)
    run.log_dict(config.model_dump(mode="json"), "config.json")
    run.log_dict(metadata["package_versions"], "package_versions.json")
    run.log_dict(result.sample_size.to_dict(), "sample_size.json")
    run.log_text(result.metrics_table().to_csv(), "metrics.csv")
    for name, table in result.metrics_without_covariate.items():
        run.log_text(table.to_csv(), f"metrics_without_{PRE_COVARIATE}_{name}.csv")
    run.log_text(result.subgroups.to_csv(index=False), "subgroups.csv")
    for name, curve in result.decision_curves.items():
        run.log_text(curve.to_csv(index=False), f"decision_curves/{name}.csv")
    for png in plots.values():
        run.log_artifact(png, "plots")


def format_results(result: TrainingResult) -> str:
    """The results table and where things are, for the terminal."""
    config = result.config
    cols = list(get_task(result.task).table_columns)
    table = result.metrics_table()[cols]
    width = max(len(n) for n in table.index) + 3
    what = get_task(result.task).table_caption(config)
    lines = [f"Outer-CV performance (95 % bootstrap intervals), {result.data_summary['n_rows']} "
             f"rows, {result.outer.n_repeats} repeat(s) of {config.cv.outer_folds}-fold "
             f"({what}):"]
    lines.append(" " * width + "  ".join(f"{c:<21}" for c in cols))
    for name, row in table.iterrows():
        tag = "*" if name == result.chosen else ""
        lines.append(f"{name + tag:<{width}}" + "  ".join(f"{row[c]:<21}" for c in cols))
    rule = ("best" if config.selection_rule == "best" else
            "the least complex within one standard error of the best")
    lines.append(f"* chosen for the final model (outer-CV {config.selection_metric}, {rule};"
                 " baselines are never chosen). Its own row is optimistic: it won on these"
                 " folds.")
    lines.append(f"{SELECTED}: the honest figure of the whole procedure, the candidate each "
                 "outer training set's inner predictions choose, scored on its outer fold.")
    for name, other in result.metrics_without_covariate.items():
        row = {m: f"{other.loc[m, 'estimate']:.3f} ({other.loc[m, 'ci_low']:.3f}-"
                  f"{other.loc[m, 'ci_high']:.3f})" for m in cols}
        lines.append(f"{name} scored without {PRE_COVARIATE} (its fallback model):")
        lines.append(f"{'':<{width}}" + "  ".join(f"{row[c]:<21}" for c in cols))
    ss = result.sample_size
    event = result.data_summary.get("sample_size_event", "impaired EIH")
    lines.append(f"Sample size (Riley, {event}): minimum {ss.minimum_n} rows for "
                 f"{ss.parameters} parameters at C={ss.c_statistic}; cohort "
                 f"{result.data_summary['n_rows']}.")
    lines.append(get_task(result.task).decision_line(result.final.model.threshold,
                                                     config.threshold.rule))
    lines.append(f"Model directory: {result.model_dir}")
    if result.model_dir is not None and (result.model_dir / "checksums.sha256").is_file():
        lines.append("Model directory digest (SHA-256 of checksums.sha256; keep it to check "
                     "the directory later: eihpredict verify --model DIR --digest ...): "
                     + manifest_digest(result.model_dir))
    if result.run_id:
        lines.append(f"MLflow run: {result.run_id} in {result.tracking_uri} "
                     f"(mlflow ui --backend-store-uri {result.tracking_uri})")
    lines.append(f"Finished in {result.seconds:.0f} s")
    return "\n".join(lines)
