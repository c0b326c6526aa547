"""Pipeline configs (``pipelines/*.yaml``): parameters only, loaded into pydantic models.

Unknown keys are refused everywhere (``extra="forbid"``), so a typo fails loudly with
the key's name and the file. Every key is documented in the README's config reference
and in the ``description`` of its field here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .features import FEATURE_GROUPS
from .fileio import read_yaml
from .labels import LabelRule

__all__ = [
    "TASKS",
    "CalibrationConfig",
    "CandidateConfig",
    "ContinuousConfig",
    "ConfigError",
    "CVConfig",
    "ParamSpec",
    "PipelineConfig",
    "ThresholdConfig",
    "TuningConfig",
    "load_config",
]


#: What a model predicts, from the label rule: ``binary`` (impaired EIH yes/no),
#: ``continuous`` (the PPT change, kPa) or ``three_class`` (hypoalgesia / no change /
#: hyperalgesia).
TASKS = ("binary", "continuous", "three_class")

#: Metrics that only a continuous outcome has (tuning or selection).
CONTINUOUS_ONLY_METRICS = frozenset({"mse", "rmse", "mae", "r2"})

#: Candidate kinds that are one estimator (anything else is an ensemble of them).
ESTIMATORS = frozenset({"lightgbm", "logistic"})


class ConfigError(ValueError):
    """A pipeline config that cannot be used (one readable line per problem)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamSpec(_Strict):
    """Search range of one hyperparameter (Optuna ``suggest_*``)."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @field_validator("choices")
    @classmethod
    def _non_empty(cls, value):
        if value is not None and not value:
            raise ValueError("choices must not be empty")
        return value


class CandidateConfig(_Strict):
    """One candidate model."""

    name: str = Field(description="Name shown in results and MLflow.")
    kind: Literal["lightgbm", "logistic", "ensemble"] = Field(
        description="Model family: lightgbm (gradient-boosted trees) or logistic (the "
        "penalised linear family: logistic, multinomial logistic or linear regression as "
        "the label rule needs); ensemble averages its members' raw scores."
    )
    members: list[str] | None = Field(
        None, description="For kind ensemble: names of the candidates it averages."
    )
    groups: list[str] | None = Field(
        None, description="Feature groups for this candidate (default: features.groups)."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Fixed hyperparameters of the estimator."
    )
    search_space: dict[str, ParamSpec] = Field(
        default_factory=dict, description="Tuned hyperparameters (empty: not tuned)."
    )
    baseline: bool = Field(
        False, description="A reference model: reported, never chosen as the final model."
    )

    @field_validator("groups")
    @classmethod
    def _known_groups(cls, value):
        if value is not None:
            unknown = [g for g in value if g not in FEATURE_GROUPS]
            if unknown or not value:
                raise ValueError(f"unknown feature groups {unknown}; expected {FEATURE_GROUPS}")
        return value


class FeaturesConfig(_Strict):
    groups: list[str] = Field(default_factory=lambda: list(FEATURE_GROUPS))
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("groups")
    @classmethod
    def _known(cls, value):
        unknown = [g for g in value if g not in FEATURE_GROUPS]
        if unknown or not value:
            raise ValueError(f"unknown feature groups {unknown}; expected {FEATURE_GROUPS}")
        return value


class TuningConfig(_Strict):
    n_trials: Annotated[int, Field(ge=1)] = 30
    timeout_seconds: Annotated[float | None, Field(gt=0)] = None
    inner_folds: Annotated[int, Field(ge=2)] = 3
    metric: Literal["log_loss", "roc_auc", "brier", "mse", "rmse", "mae"] = Field(
        "log_loss", description="Inner-CV objective on the raw model. Binary and three "
        "classes: log_loss, brier or roc_auc (macro one-vs-rest for three classes). "
        "Continuous: mse, rmse or mae; log_loss and brier rank as mse does (see README).")
    pruning: bool = True


class CVConfig(_Strict):
    scheme: Literal["stratified_kfold", "leave_site_out"] = "stratified_kfold"
    outer_folds: Annotated[int, Field(ge=2)] = 5
    repeats: int | Literal["auto"] = Field(
        "auto", description="Outer CV repeats; auto = 3 below 300 rows, 2 below 1000, else 1."
    )
    bootstrap: Annotated[int, Field(ge=50)] = 500
    n_jobs: int = Field(1, description="Outer folds in parallel (processes); -1 = all cores.")
    group_by_participant: bool = Field(
        True, description="Repeated sessions: every split, calibration fold and bootstrap "
        "keeps a participant's sessions together; false is refused for such a cohort.")


class CalibrationConfig(_Strict):
    method: Literal["auto", "sigmoid", "isotonic", "temperature", "none"] = Field(
        "auto", description="auto: sigmoid below 5,000 rows, isotonic from 5,000."
    )
    folds: Annotated[int, Field(ge=2)] = 5


class ThresholdConfig(_Strict):
    rule: Literal["youden", "fixed", "prevalence", "sensitivity"] = "youden"
    value: Annotated[float, Field(gt=0, lt=1)] = 0.5
    min_sensitivity: Annotated[float, Field(gt=0, le=1)] = 0.8


class ContinuousConfig(_Strict):
    """Settings of a continuous model (``label: {rule: continuous}``)."""

    interval: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.8, description="Coverage of the prediction interval (change_pi_low, change_pi_high).")
    adjust_for_pre: bool = Field(
        True, description="ANCOVA: the pre-exercise PPT (eih_ppt_pre_kpa) is a covariate of "
        "the change; rows scored without it get a model fitted without it.")


class MissingConfig(_Strict):
    """What a model does with rows that are mostly missing."""

    min_observed_share: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0, description="Rows (files, HTTP, pyfunc) with a smaller share of the model's "
        "input columns observed are rejected with a reason instead of scored; 0 scores "
        "every valid row (each prediction still carries missing_input_share and "
        "missing_dominated).")


class MLflowConfig(_Strict):
    experiment: str = "eihpredict"
    tracking_uri: str | None = None


class DesignConfig(_Strict):
    """How the exercise a participant did was chosen (for a per-patient prescription)."""

    allocation: Literal["randomised", "observational", "unknown"] = Field(
        "unknown", description="randomised (crossover in random order, or randomised "
        "parallel groups): option differences may be read causally per patient; "
        "observational (e.g. the clinician chose the exercise): prescribe refuses unless "
        "told to allow it, and warns.")


class PrescriptionConfig(_Strict):
    """Participant-level bootstrap stored with the model for ``eihpredict prescribe``."""

    bootstrap: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Refits of the chosen candidate (its hyperparameters, its "
        "calibration) on participant-resampled data, stored with the model for the "
        "prescription intervals; default: 200 when the cohort has repeated sessions or "
        "several exercise options, else 0 (no prescription).")


class PipelineConfig(_Strict):
    """A whole experiment definition."""

    name: str
    description: str = ""
    seed: int = Field(42, ge=0, le=2**32 - 1)
    label: LabelRule = Field(default_factory=LabelRule)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    models: list[CandidateConfig]
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    cv: CVConfig = Field(default_factory=CVConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    threshold: ThresholdConfig = Field(default_factory=ThresholdConfig)
    continuous: ContinuousConfig = Field(default_factory=ContinuousConfig)
    missing: MissingConfig = Field(default_factory=MissingConfig)
    selection_metric: Literal["log_loss", "roc_auc", "brier", "rmse", "mae", "r2"] = Field(
        "log_loss", description="Outer-CV metric that chooses the final candidate (per task: "
        "see the README).")
    anticipated_c_statistic: Annotated[float, Field(gt=0.5, lt=1)] = Field(
        0.70, description="C-statistic assumed by the Riley sample size (realistic: 0.65-0.75)."
    )
    mlflow: MLflowConfig = Field(default_factory=MLflowConfig)
    design: DesignConfig = Field(default_factory=DesignConfig)
    prescription: PrescriptionConfig = Field(default_factory=PrescriptionConfig)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        # The default model directory is models/<name>: a name must not lead elsewhere.
        if (not value.strip() or value in (".", "..") or "\x00" in value
                or any(sep in value for sep in ("/", "\\"))):
            raise ValueError(f"name must be a plain name (it names models/<name>), without "
                             f"'/', '\\' or '..'; got {value!r}")
        return value

    @field_validator("models")
    @classmethod
    def _one_real_candidate(cls, value):
        if not any(not c.baseline for c in value):
            raise ValueError("at least one candidate must not be a baseline")
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError(f"candidate names must be unique, got {names}")
        plain = {c.name for c in value if c.kind in ESTIMATORS}
        for c in value:
            if c.kind not in ESTIMATORS:  # an ensemble
                members = c.members or []
                if len(members) < 2 or not set(members) <= plain:
                    raise ValueError(f"ensemble {c.name!r} needs at least two members from "
                                     f"the non-ensemble candidates {sorted(plain)}, got "
                                     f"{members}")
            elif c.members:
                raise ValueError(f"candidate {c.name!r}: members is only for kind ensemble")
        return value

    @model_validator(mode="after")
    def _metrics_fit_the_task(self):
        task = self.task
        for key, metric in (("tuning.metric", self.tuning.metric),
                            ("selection_metric", self.selection_metric)):
            if task != "continuous" and metric in CONTINUOUS_ONLY_METRICS:
                raise ValueError(f"{key} {metric} needs label rule continuous (this label "
                                 f"rule gives a {task} outcome); use log_loss, brier or roc_auc")
            if task == "continuous" and metric == "roc_auc":
                raise ValueError(f"{key} roc_auc needs a binary or three-class outcome; use "
                                 "mse, rmse or mae (tuning) or rmse, mae or r2 (selection) "
                                 "for label rule continuous")
        label = self.label
        if task == "continuous" and self.continuous.adjust_for_pre and (
                label.measure != "ppt" or label.site != "local"):
            raise ValueError(f"continuous.adjust_for_pre adjusts for eih_ppt_pre_kpa, the "
                             f"local pre-exercise PPT; the outcome here is "
                             f"{label.outcome_definition()}: set continuous.adjust_for_pre "
                             "false")
        if task == "three_class" and self.calibration.method == "isotonic":
            raise ValueError("calibration.method isotonic is for binary outcomes; three "
                             "classes use auto or sigmoid (vector scaling), temperature or "
                             "none")
        return self

    @property
    def task(self) -> str:
        """``binary``, ``continuous`` or ``three_class`` (see :data:`TASKS`)."""
        if self.label.rule == "continuous":
            return "continuous"
        return "three_class" if self.label.n_classes == 3 else "binary"

    def candidate(self, name: str) -> CandidateConfig:
        return next(c for c in self.models if c.name == name)

    def groups_for(self, candidate: CandidateConfig) -> list[str]:
        if candidate.members:  # an ensemble: the union of its members' groups
            groups: list[str] = []
            for member in candidate.members or []:
                groups += [g for g in self.groups_for(self.candidate(member)) if g not in groups]
            return groups
        return list(candidate.groups or self.features.groups)


def load_config(path: str | os.PathLike[str], **overrides: Any) -> PipelineConfig:
    """Load and check a pipeline config.

    Parameters
    ----------
    path : path-like
        YAML file.
    **overrides
        Top-level values replacing the file's (e.g. ``seed=7``), or ``n_trials`` for
        ``tuning.n_trials``.

    Raises
    ------
    ConfigError
        Unreadable YAML or a value/key the schema refuses; the message names the file
        and the key path (``models.0.search_space.num_leaves.type``).
    """
    path = Path(path)
    try:
        data = read_yaml(path, "config file")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    data.setdefault("name", path.stem)
    n_trials = overrides.pop("n_trials", None)
    if n_trials is not None:
        data.setdefault("tuning", {})["n_trials"] = n_trials
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key {where!r}")
            elif not err["loc"]:  # a rule across keys names its keys itself
                problems.append(str(err["msg"]).removeprefix("Value error, "))
            else:
                problems.append(f"{where}: {err['msg']}")
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None
