"""Model card, generated for every trained model and organised by the TRIPOD+AI items
(Collins et al., BMJ 2024;385:e078378) that a toolkit can fill in by itself. Items that
need the researcher (source of data, ethics, funding, ...) are listed as to be completed.
"""

from __future__ import annotations

from typing import Any

from .modeling import get_task

__all__ = ["cpm_form", "render_model_card"]


def _cell(table: dict[str, Any], m: str) -> str:
    return f"{table[m]['estimate']:.3f} ({table[m]['ci_low']:.3f}-{table[m]['ci_high']:.3f})"


def _headline(table: dict[str, Any], task: str) -> str:
    return ", ".join(f"{label} {_cell(table, key)}" for label, key in get_task(task).headline)


def _metric_rows(metrics: dict[str, Any], task: str = "binary") -> list[str]:
    names = get_task(task).card_metrics
    rows = ["| candidate | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for candidate, table in metrics.items():
        cells = [f"{table[m]['estimate']:.3f} ({table[m]['ci_low']:.3f}-{table[m]['ci_high']:.3f})"
                 for m in names]
        rows.append(f"| {candidate} | " + " | ".join(cells) + " |")
    return rows


def _subgroup_rows(rows: list[dict[str, Any]]) -> list[str]:
    interval = any(r.get("pi_coverage") is not None for r in rows)
    extra = " interval coverage | interval width (kPa) |" if interval else ""
    out = ["| variable | level | n | events | AUROC (95 % CI) | observed | predicted |" + extra,
           "|---|---|---|---|---|---|---|" + ("---|---|" if interval else "")]
    for r in rows:
        tail = (f" {r['pi_coverage']:.3f} | {r['pi_width']:.1f} |"
                if interval and r.get("pi_coverage") is not None else
                (" | |" if interval else ""))
        if r.get("auroc") is None:
            words = "" if r["variable"] == "all" else "too few rows"
            events = "" if r.get("events") is None else r["events"]
            out.append(f"| {r['variable']} | {r['level']} | {r['n']} | {events} | "
                       f"{words} | | |" + tail)
            continue
        out.append(f"| {r['variable']} | {r['level']} | {r['n']} | {r['events']} | "
                   f"{r['auroc']:.3f} ({r['auroc_ci_low']:.3f}-{r['auroc_ci_high']:.3f}) | "
                   f"{r['observed']:.2f} | {r['predicted']:.2f} |" + tail)
    return out


def _dropped_lines(dropped: dict[str, Any] | None) -> list[str]:
    """``train --drop-invalid``: how many rows were set aside and for what."""
    if not dropped:
        return []
    if not dropped["n"]:
        return ["- Trained with --drop-invalid: no row was dropped."]
    reasons = ", ".join(f"{column} {n}" for column, n in dropped["issues_by_column"].items())
    return [f"- {dropped['n']} row(s) were invalid or had no outcome and were left out "
            f"(--drop-invalid; listed with reasons in `{dropped['file']}`, kept outside "
            f"this directory). Problems by column: {reasons}."]


def _missingness_lines(rows: list[dict[str, Any]], missing: dict[str, Any]) -> list[str]:
    """Missingness by source group of the model's inputs (training rows)."""
    if not rows:
        return []
    lines = ["- Missing inputs by group in the training data (rows with the whole group "
             "missing; cells missing):",
             "", "| group | inputs | rows all missing | cells missing |",
             "| --- | ---: | ---: | ---: |"]
    lines += [f"| {r['group']} | {r['columns']} | {r['rows_all_missing'] * 100:.1f} % | "
              f"{r['cells_missing'] * 100:.1f} % |" for r in rows]
    minimum = float(missing.get("min_observed_share", 0.0))
    policy = (f"rows with less than {minimum * 100:.0f} % of the inputs observed are "
              "rejected, not scored." if minimum > 0 else
              "every valid row is scored (missing.min_observed_share 0).")
    groups = ", ".join(dict.fromkeys(r["group"] for r in rows))
    lines += ["", "- Each prediction carries missing_input_share, missing_explanation_share "
              "and missing_dominated (more than half of its input columns missing, or more "
              f"than half of its explanation from missing inputs); {policy}",
              f"- The model reads the groups {groups}. A file without a whole group (an "
              "instrument a study never used) is scored with that group missing in every "
              "row, and the scoring summary names the absent groups; a file without the "
              "outcome columns the model reads is refused."]
    return lines


def cpm_form(groups) -> str:
    """Which CPM form a model uses, in words (the card's "CPM form" line).

    Examples
    --------
    >>> cpm_form(["cpm_rating", "pcs"])
    'pain ratings of a test stimulus (cpm_rating: cpm_test_before_rating, cpm_test_after_rating)'
    """
    from .instruments import CPM_FORMS

    forms = [f"{form.label} ({form.name}: {form.before}, {form.after})"
             for form in CPM_FORMS.values() if form.name in groups]
    return " and ".join(forms) or "none (no CPM group)"


def render_model_card(result, metadata: dict[str, Any]) -> str:
    """Markdown model card for a :class:`~eihpredict.modeling.TrainingResult`."""
    config = result.config
    data = metadata["training_data"]
    ss = metadata["sample_size"]
    val = metadata["validation"]
    chosen = val["metrics"][result.chosen]
    task = metadata.get("task", "binary")
    says = get_task(task).card_lines(metadata)
    candidates = ", ".join(
        f"{c.name} ({c.kind}{', baseline' if c.baseline else ''})" for c in config.models)
    lines = [
        f"# Model card: {metadata['model_version']}",
        "",
        "Research software, not a medical device. A model trained on simulated cohorts "
        "(`eihpredict simulate`) is a demonstration, not evidence about patients.",
        "",
        "## Title and intended use (TRIPOD+AI 1, 3)",
        f"- Predicts {says['predicts']}: {metadata['label_rule']['description']}.",
        f"- Output columns: {', '.join(metadata.get('output_columns', []))}.",
        "- Intended for researchers stratifying participants before an exercise bout; "
        "not for individual clinical decisions without external validation.",
        "",
        "## Data (TRIPOD+AI 5, 6, 8)",
        f"- Training file `{data['file']}`, SHA-256 `{data['sha256']}`.",
        f"- {data['n_rows']} participants, {data['n_impaired']} with impaired EIH "
        f"(prevalence {data['prevalence']:.1%}).",
        *_dropped_lines(data.get("dropped_rows")),
        *([f"- PPT change: mean {data['change_kpa']['mean']:.1f} kPa, SD "
           f"{data['change_kpa']['sd']:.1f} kPa, median {data['change_kpa']['median']:.1f} kPa."]
          if "change_kpa" in data else []),
        *(["- Classes: " + ", ".join(f"{k} {v}" for k, v in data["classes"].items()) + "."]
          if "classes" in data else []),
    ]
    for col in ("population", "sex", "site", "exercise_modality"):
        if col in data:
            parts = ", ".join(f"{k} {v}" for k, v in data[col].items())
            lines.append(f"- {col}: {parts}.")
    mapping = metadata.get("mapping")
    if mapping:
        renamed = ", ".join(sorted(mapping.get("columns", {})))
        lines.append(f"- Read through the study mapping "
                     f"{mapping.get('study') or '(unnamed)'!r}: contract columns {renamed} "
                     "come from the study's own names, codes and units; the mapping is "
                     "stored in `metadata.json` and applied when scoring files or records "
                     "that use the study's names.")
    lines += [
        "- Source, eligibility, recruitment dates and settings: *to be completed by the "
        "study team*.",
        "",
        "## Outcome (TRIPOD+AI 7)",
        f"- Labels from: {data.get('labels', {}).get('source', 'rule')}"
        + (f"; an eih_impaired column disagreed with the rule in "
           f"{data['labels']['disagreements']} of {data['labels']['compared']} rows"
           if data.get("labels", {}).get("compared") else "") + ".",
        f"- {metadata['label_rule']['description']}.",
        *([f"- Outcome measurement: {metadata['outcome_definition']}."]
          if metadata.get("outcome_definition", "") not in
          metadata["label_rule"]["description"] else []),
        "- EIH is only moderately repeatable between sessions (ICC 0.40-0.57; Vaegter 2018), "
        "which caps any predictor's accuracy.",
        "",
        "## Predictors (TRIPOD+AI 8)",
        f"- Feature groups: {', '.join(metadata['feature_groups'])}.",
        f"- CPM form: {cpm_form(metadata['feature_groups'])}.",
        *([f"- Regression to the mean: the baseline PPT predictor is the outcome's own "
           f"pre-exercise measurement, so {data['regression_to_the_mean']['action']}."]
          if data.get("regression_to_the_mean", {}).get("action") else []),
        *([f"- Covariate: {data['regression_to_the_mean']['ancova']}. "
           f"{metadata['covariate']['rule'][0].upper()}{metadata['covariate']['rule'][1:]} "
           "(its own out-of-fold calibration)."]
          if metadata.get("covariate") and data.get("regression_to_the_mean", {}).get("ancova")
          else []),
        f"- Input columns: {', '.join(metadata['input_columns'])}.",
        f"- {len(metadata['features'])} model features (names start with their source group).",
        "- Missing data: LightGBM routes missing values natively; the logistic model uses "
        "median imputation with missing-indicators; questionnaire totals are pro-rated when "
        "at most 20 % of items are missing.",
        *_missingness_lines(data.get("missingness", []), metadata.get("missing", {})),
        "",
        "## Sample size (TRIPOD+AI 9)",
        f"- Riley et al. minimum (binary criteria for "
        f"{data.get('sample_size_event', 'impaired EIH')}) for {ss['parameters']} candidate "
        f"parameters at anticipated "
        f"C = {ss['c_statistic']} and prevalence {ss['prevalence']:.2f}: **{ss['minimum_n']} "
        f"rows** ({ss['minimum_events']} events; shrinkage {ss['n_shrinkage']}, optimism "
        f"{ss['n_optimism']}, overall risk {ss['n_risk']}).",
        f"- This cohort: {data['n_rows']} rows "
        + ("(meets the minimum)." if data["n_rows"] >= ss["minimum_n"] else
           "(**below the minimum**: expect optimism and wide intervals)."),
        "",
        "## Model development (TRIPOD+AI 10, 12)",
        f"- Candidates: {candidates}.",
        f"- Tuning: Optuna TPE (seed {config.seed}), {config.tuning.n_trials} trials per "
        f"candidate and training set, {config.tuning.inner_folds}-fold inner CV on "
        f"{config.tuning.metric}, median pruning {'on' if config.tuning.pruning else 'off'}; "
        "a fresh study in every outer fold.",
        f"- Chosen: **{result.chosen}** ({metadata['kind']}) by outer-CV "
        f"{val['selection_metric']}; hyperparameters `{metadata['hyperparameters']}`.",
        f"- Calibration: {says['calibration']}.",
        says["threshold"],
        "",
        "## Performance (TRIPOD+AI 12, 23)",
        f"- Internal validation: nested cross-validation, {val['scheme']}, "
        f"{val['outer_folds']} folds x {val['repeats']} repeat(s); 95 % intervals from "
        f"{val['bootstrap']} participant-level bootstrap samples of the outer predictions.",
        "",
        *_metric_rows(val["metrics"], task),
        "",
        f"- Chosen model: {_headline(chosen, task)}; optimistic, since it won on the same "
        "outer folds.",
        *([f"- **Reported performance** (the whole procedure, selection inside the outer "
           f"loop: `{proc}`): {_headline(val['metrics'][proc], task)}."]
          if (proc := val.get("reported")) in val["metrics"] else []),
        *([f"- Scored without {metadata['covariate']['column']} (the fallback model): "
           f"{_headline(table, task)}."
           for table in metadata["covariate"]["validation_without_covariate"].values()]
          if metadata.get("covariate") else []),
        *([f"- Internal-external validation across {row['k']} sites (random effects, "
           f"{row['method']}): pooled C {row['estimate']:.3f} ({row['ci_low']:.3f}-"
           f"{row['ci_high']:.3f}), 95 % prediction interval for a new site "
           f"{row['pi_low']:.3f}-{row['pi_high']:.3f}, I2 {row['i2']:.0%}; forest plots in "
           "`plots/`."
           for row in ((val.get("internal_external") or {}).get("pooled") or [])
           if row["measure"] == "c_statistic" and row.get("pi_low") is not None]),
        "- Plots: " + ", ".join(f"`plots/{name}`" for name in metadata.get(
            "plots", ["roc.png", "calibration.png", "decision_curve.png"])) + ".",
        "",
        "## Subgroups and fairness (TRIPOD+AI 14, 23)",
        "Outer-CV performance of the chosen candidate by pain population, sex and site "
        f"({says['subgroups']} with 95 % bootstrap interval; observed vs mean predicted "
        "share):",
        "",
        *_subgroup_rows(val.get("subgroups", [])),
        "",
        "## Limitations (TRIPOD+AI 26)",
        "- Internal validation only; external validation in another cohort is needed.",
        "- Published models explain at most 20-25 % of EIH variance (realistic AUROC "
        "0.65-0.75); much higher figures suggest leakage or overfitting.",
        "",
        "## Reproducibility (TRIPOD+AI 18)",
        f"- Config `{config.name}`; package versions: "
        + ", ".join(f"{k} {v}" for k, v in metadata["package_versions"].items()) + ".",
    ]
    if metadata.get("mlflow"):
        lines.append(f"- MLflow run `{metadata['mlflow']['run_id']}` in "
                     f"`{metadata['mlflow']['tracking_uri']}`.")
    lines.append("- Integrity: `checksums.sha256` lists every file of the model directory; "
                 "its own SHA-256 (the directory's digest) was printed at training and is "
                 "logged with the MLflow run (`model_dir_sha256`, and in the run's copy of "
                 "this card). It cannot be written inside the directory it stands for: "
                 "keep it, and check with `eihpredict verify --model DIR --digest "
                 "SHA256`.")
    lines += _prescription_lines(metadata.get("prescription"))
    return "\n".join(lines) + "\n"


def _prescription_lines(meta: dict[str, Any] | None) -> list[str]:
    """The per-patient prescription section (repeated sessions, contract v3)."""
    if not meta:
        return []
    design = meta["design"]
    het = meta.get("heterogeneity")
    lines = ["", "## Per-patient exercise prescription (`eihpredict prescribe`)",
             f"- Training design: {design['design']} ({design['n_participants']} "
             f"participants, {design['n_rows']} sessions); allocation: "
             f"{meta['allocation']}.",
             "- A per-patient comparison of exercises may be read causally only from a "
             "randomised crossover or randomised parallel groups; observational "
             "allocation is refused (or, when allowed, warned about).",
             f"- Causal reading of this model: {meta['causal']}."]
    if het:
        lines.append(f"- Heterogeneity test (reported before any ranking): F = "
                     f"{het['statistic'] / het['df']:.2f} on {het['df']} and "
                     f"{het['df_denominator']} df, p = {het['p_value']:.3g} "
                     f"({het['method']}).")
    lines.append("- Options seen in training (the default candidates; others outside "
                 "their range are refused): "
                 + "; ".join(f"{o['option']} ({o['n_rows']} sessions)"
                             for o in meta["options"]) + ".")
    lines.append(f"- Intervals: {meta['bootstrap']} participant-level bootstrap refits "
                 "of the whole fitted pipeline (percentile 95 %; differences paired).")
    return lines
