"""Pipeline configs (``pipelines/*.yaml``): parameters only, loaded into pydantic models.

Unknown keys are refused everywhere (``extra="forbid"``), so a typo fails loudly with
the key's name and the file. Every key is documented in the ``description`` of its field
here and in ``docs/configuration.md``, whose key table :func:`config_reference` writes.
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
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .features import DEFAULT_FEATURE_GROUPS, feature_groups, feature_options
from .fileio import read_yaml
from .labels import LabelRule
from .modeling import FAMILIES, TASKS, get_task

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


# What a model predicts (the task: ``TASKS``, from the label rule) and the candidate
# kinds (the registered model families, ``FAMILIES``, plus ``ensemble``) are the
# registries of :mod:`eihpredict.modeling`; the config checks against them.


class ConfigError(ValueError):
    """A pipeline config that cannot be used (one readable line per problem)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_SCALAR = (str, int, float, bool, type(None))

# Types and bounds of the hyperparameters a config may fix are each family's own
# declaration (:attr:`eihpredict.modeling.ModelFamily.param_types`), read live below.
_TYPE_WORDS = {int: "an integer", float: "a number", str: "text", bool: "true or false"}


def _param_problem(value: Any, rule: tuple[type, float | None, float | None] | None
                   ) -> str | None:
    """Why ``value`` does not fit ``rule`` (None when it does)."""
    if rule is None:
        ok = isinstance(value, _SCALAR) or (isinstance(value, list) and all(
            isinstance(v, _SCALAR) for v in value))
        return None if ok else "a number, text, true/false or a flat list of them"
    kind, low, high = rule
    if kind is bool or kind is str:
        return None if isinstance(value, kind) else _TYPE_WORDS[kind]
    numbers = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, numbers) or value != value:
        return _TYPE_WORDS[kind]
    if (low is not None and value < low) or (high is not None and value > high):
        span = (f"from {low:g} to {high:g}" if low is not None and high is not None
                else f"at least {low:g}" if low is not None else f"at most {high:g}")
        return f"{_TYPE_WORDS[kind]} {span}"
    return None


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

    @model_validator(mode="after")
    def _range(self):
        if self.type == "categorical":
            if self.choices is None:
                raise ValueError("a categorical search needs choices")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"an {self.type} search needs low and high")
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is above high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log search needs low above 0, got {self.low:g}")
        return self


class CandidateConfig(_Strict):
    """One candidate model."""

    name: str = Field(description="Name shown in results and MLflow.")
    kind: str = Field(
        description="Model family, one of the registered families: lightgbm "
        "(gradient-boosted trees) or logistic (the penalised linear family: logistic, "
        "multinomial logistic or linear regression as the label rule needs); ensemble "
        "averages its members' raw scores."
    )
    members: list[str] | None = Field(
        None, description="For kind ensemble: names of the candidates it averages."
    )

    @field_validator("kind")
    @classmethod
    def _registered_family(cls, value: str) -> str:
        if value != "ensemble" and value not in FAMILIES:
            raise ValueError(f"unknown model family {value!r}; expected one of "
                             f"{', '.join([*FAMILIES, 'ensemble'])}")
        return value
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

    @field_validator("params")
    @classmethod
    def _typed_params(cls, value: dict[str, Any], info: ValidationInfo):
        family = FAMILIES.get(info.data.get("kind"))  # checked live: families registered later too
        rules = {} if family is None else family.param_types
        for key, given in value.items():
            expected = _param_problem(given, rules.get(key))
            if expected is not None:
                raise PydanticCustomError(
                    "param_type", "expected {expected}, got {given}",
                    {"key": str(key), "expected": expected, "given": repr(given)[:80]})
        return value

    @field_validator("groups")
    @classmethod
    def _known_groups(cls, value):
        if value is not None:
            unknown = [g for g in value if g not in feature_groups()]
            if unknown or not value:
                raise ValueError(f"unknown feature groups {unknown}; expected "
                                 f"{feature_groups()}")
        return value


class FeaturesConfig(_Strict):
    groups: list[str] = Field(default_factory=lambda: list(DEFAULT_FEATURE_GROUPS))
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("groups")
    @classmethod
    def _known(cls, value):
        unknown = [g for g in value if g not in feature_groups()]
        if unknown or not value:
            raise ValueError(f"unknown feature groups {unknown}; expected {feature_groups()}")
        return value

    @field_validator("options")
    @classmethod
    def _known_options(cls, value):
        # Each group's options are its transformer's parameters: a typo fails here, at
        # load, naming the key (not later inside the transformer with a TypeError).
        import difflib

        for group, options in value.items():
            if group not in feature_groups():
                raise ValueError(f"options for unknown feature group {group!r}; expected "
                                 f"one of {', '.join(feature_groups())}")
            allowed = feature_options(group)
            for key in options:
                if key not in allowed:
                    near = difflib.get_close_matches(key, allowed, n=1)
                    hint = (f"; did you mean {near[0]!r}?" if near else "")
                    raise ValueError(
                        f"unknown option {key!r} for feature group {group!r} (its options: "
                        f"{', '.join(allowed) or 'none'}){hint}")
        return value


class TuningConfig(_Strict):
    n_trials: Annotated[int, Field(ge=1)] = 30
    timeout_seconds: Annotated[float | None, Field(gt=0)] = None
    inner_folds: Annotated[int, Field(ge=2)] = 3
    metric: Literal["log_loss", "roc_auc", "brier", "mse", "rmse", "mae"] = Field(
        "log_loss", description="Inner-CV objective on the raw model. Binary and three "
        "classes: log_loss, brier or roc_auc (macro one-vs-rest for three classes). "
        "Continuous: mse, rmse or mae; log_loss and brier rank as mse does "
        "(docs/configuration.md).")
    pruning: bool = True


class CVConfig(_Strict):
    scheme: Literal["stratified_kfold", "leave_site_out"] = "stratified_kfold"
    outer_folds: Annotated[int, Field(ge=2)] = 5
    repeats: int | Literal["auto"] = Field(
        "auto", description="Outer CV repeats; auto = 3 below 300 rows, 2 below 1000, else 1."
    )
    bootstrap: Annotated[int, Field(ge=50)] = 500
    n_jobs: int = Field(1, description="Outer folds in parallel (processes); -1 = all cores.")
    scheduler: str | None = Field(
        None, description="Dask scheduler address (tcp://host:port): outer folds (and "
        "candidates) run as tasks on that cluster's workers; the results equal a serial "
        "run's (same seeds). Overrides n_jobs; `train --scheduler` overrides it.")
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
    interval_method: Literal["location_scale", "conformal"] = Field(
        "location_scale", description="location_scale: a scale model beside the mean model "
        "gives each row its own spread, and the standardised out-of-fold residuals are "
        "conformalised (within each stratum of stratify_by); conformal: one distribution "
        "of out-of-fold residuals for every row (models before contract v3).")
    stratify_by: str | None = Field(
        "population", description="A categorical contract column whose values get their "
        "own spread factor (Mondrian calibration, partially pooled: each value's spread of "
        "the out-of-fold residuals, shrunk towards all rows' by how much the values differ "
        "beyond chance, empirical Bayes, keeping at least n / (n + 200) of its own); "
        "missing or unseen values get the pooled spread; "
        "null: pooled only. Used by interval_method location_scale.")

    @field_validator("stratify_by")
    @classmethod
    def _categorical_column(cls, value: str | None) -> str | None:
        from .schema import COLUMN_BY_NAME

        if value is None:
            return value
        spec = COLUMN_BY_NAME.get(value)
        if spec is None or spec.is_numeric or value == "participant_id":
            raise ValueError(f"continuous.stratify_by {value!r} is not a categorical "
                             "contract column (e.g. population, sex, site, "
                             "exercise_modality)")
        return value


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
        "see docs/configuration.md).")
    selection_rule: Literal["one_se", "best"] = Field(
        "one_se", description="How selection_metric chooses: one_se, the least complex "
        "candidate (linear, then an ensemble of linear and trees, then trees) whose "
        "outer-CV loss is within one "
        "standard error (paired, per row) of the best; best, the best value. roc_auc has "
        "no per-row loss and always takes the best.")
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
        plain = {c.name for c in value if c.kind in FAMILIES}
        for c in value:
            if c.kind not in FAMILIES:  # an ensemble
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
        task = get_task(self.task)
        for key, metric in (("tuning.metric", self.tuning.metric),
                            ("selection_metric", self.selection_metric)):
            task.check_metric(key, metric)
        task.check_config(self)
        for c in self.models:
            family = FAMILIES.get(c.kind)  # None: an ensemble of checked members
            if family is not None and family.role_for(task) is None:
                raise ValueError(f"candidate {c.name!r}: model family {c.kind!r} has no "
                                 f"estimator for a {task.name} outcome")
        return self

    @property
    def task(self) -> str:
        """The task's name in :data:`eihpredict.modeling.TASKS` (``binary``,
        ``continuous`` or ``three_class``), from the label rule."""
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
            loc = [*err["loc"], *([err["ctx"]["key"]] if err["type"] == "param_type" else [])]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                            for p in loc).lstrip(".") or "(top level)"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key {where!r}")
            elif not err["loc"]:  # a rule across keys names its keys itself
                problems.append(str(err["msg"]).removeprefix("Value error, "))
            else:
                problems.append(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None


def config_reference() -> str:
    """Every key of a pipeline config as a Markdown table, from the models above.

    One row per key (nested keys dotted, list items as ``models[]``, a search range as
    ``models[].search_space.<param>``): its type, its default and the ``description``
    of its field. ``docs/configuration.md`` holds this table, and a test checks that it
    equals what this function writes, so the documentation follows the code.

    Returns
    -------
    str
        The table, one line per key, ending with a newline.

    Examples
    --------
    >>> table = config_reference()
    >>> table.splitlines()[0]
    '| key | type | default | description |'
    >>> [line for line in table.splitlines() if line.startswith("| `tuning.n_trials`")]
    ['| `tuning.n_trials` | int, >= 1 | `30` |  |']
    """
    import typing

    from pydantic_core import PydanticUndefined

    def type_name(annotation: Any) -> str:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is Literal:
            return " / ".join(f"`{a}`" for a in args)
        if origin is Annotated:
            return type_name(args[0])
        if origin in (typing.Union, __import__("types").UnionType):
            return " or ".join(type_name(a) for a in args)
        if origin in (list, dict):
            return f"{origin.__name__}[{', '.join(type_name(a) for a in args)}]"
        if annotation is type(None):
            return "null"
        if annotation is Any:
            return "any"
        return getattr(annotation, "__name__", str(annotation))

    def default_of(field: Any) -> str:
        if field.default_factory is not None:
            value = field.default_factory()
            if isinstance(value, BaseModel):
                return ""
            return f"`{value}`" if value not in ({}, []) else f"`{value!r}`"
        if field.default is PydanticUndefined:
            return "required"
        if field.default is None:
            return "none"
        if isinstance(field.default, bool):
            return f"`{str(field.default).lower()}`"
        return f"`{field.default}`" if field.default != "" else '`""`'

    def bounds(field: Any) -> str:
        out = [f"{symbol} {getattr(m, attr)}" for m in field.metadata
               for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
               if getattr(m, attr, None) is not None]
        return f", {', '.join(out)}" if out else ""

    def model_of(annotation: Any) -> tuple[type[BaseModel] | None, str]:
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation, ""
        if origin is list:
            inner, _ = model_of(typing.get_args(annotation)[0])
            return inner, "[]"
        if origin is dict:
            inner, _ = model_of(typing.get_args(annotation)[1])
            return inner, ".<param>"
        return None, ""

    rows = ["| key | type | default | description |", "|---|---|---|---|"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = f"{prefix}{name}"
            inner, suffix = model_of(field.annotation)
            description = (field.description or "").replace("|", "\\|")
            if inner is not None:
                if suffix != "" or not field.default_factory:
                    rows.append(f"| `{key}` | {type_name(field.annotation)} | "
                                f"{default_of(field)} | {description} |")
                walk(inner, f"{key}{suffix}.")
            else:
                rows.append(f"| `{key}` | {type_name(field.annotation)}{bounds(field)} | "
                            f"{default_of(field)} | {description} |")

    walk(PipelineConfig, "")
    return "\n".join(rows) + "\n"
