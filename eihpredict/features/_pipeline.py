"""Compose the feature groups a pipeline config names into one scikit-learn pipeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from ..instruments import INSTRUMENTS
from ..schema import LiveTuple
from ._clinical import CLINICAL_GROUPS, ClinicalFeatures
from ._covariates import OutcomeCovariates
from ._cpm import CPMFeatures, CPMRatingFeatures
from ._exercise import ExerciseDoseFeatures
from ._missing import ImputeWithIndicators
from ._ppt import PainSensitivityFeatures
from ._questionnaires import QuestionnaireScorer
from ._ts import TemporalSummationFeatures

__all__ = ["DEFAULT_FEATURE_GROUPS", "FEATURE_GROUPS", "build_feature_pipeline",
           "build_feature_union", "feature_groups", "feature_options"]

#: Groups a pipeline uses when its config names none (the v1 groups; unchanged when
#: instruments or measures are added).
DEFAULT_FEATURE_GROUPS: tuple[str, ...] = (
    "cpm", "ts", "pcs", "tsk", "hads", "ppt", "exercise", *CLINICAL_GROUPS,
)
_MEASURES = ("cpm", "cpm_rating", "ts", "ppt", "exercise")


def feature_groups() -> tuple[str, ...]:
    """Every group a pipeline config may name: the default groups, then the other
    measures and every registered instrument (:data:`eihpredict.instruments.INSTRUMENTS`).

    Examples
    --------
    >>> groups = feature_groups()
    >>> groups[:3], "cpm_rating" in groups, "pseq" in groups
    (('cpm', 'ts', 'pcs'), True, True)
    """
    return tuple(dict.fromkeys((*DEFAULT_FEATURE_GROUPS, *_MEASURES, *INSTRUMENTS)))


#: Feature groups a pipeline config may name (a live view of :func:`feature_groups`).
FEATURE_GROUPS = LiveTuple(feature_groups)

_SINGLE = {
    "cpm": CPMFeatures,
    "cpm_rating": CPMRatingFeatures,
    "ts": TemporalSummationFeatures,
    "ppt": PainSensitivityFeatures,
    "exercise": ExerciseDoseFeatures,
}


def build_feature_pipeline(
    groups: Iterable[str] = DEFAULT_FEATURE_GROUPS,
    *,
    model_kind: str = "tree",
    options: Mapping[str, Mapping[str, Any]] | None = None,
    covariates: Iterable[str] = (),
) -> Pipeline:
    """Build the feature pipeline for the named groups.

    Parameters
    ----------
    groups : iterable of str
        Any of :func:`feature_groups` (default: :data:`DEFAULT_FEATURE_GROUPS`).
    model_kind : {"tree", "linear"}
        ``"tree"`` leaves missing values for LightGBM; ``"linear"`` adds median
        imputation with ``*_missing`` indicators and standard scaling.
    options : mapping, optional
        Keyword arguments per group for its transformer, e.g.
        ``{"cpm": {"responder_rule": "sem"}, "pcs": {"max_missing_fraction": 0.1}}``
        (``pcs``, ``tsk`` and ``hads`` share one scorer; give its options under any;
        every other instrument has its own scorer, pro-rating by its declared rule
        unless ``max_missing_fraction`` is given).
    covariates : iterable of str
        Numeric contract columns added unchanged (:class:`OutcomeCovariates`), e.g.
        ``("eih_ppt_pre_kpa",)`` for a continuous model adjusted for the pre value.

    Returns
    -------
    Pipeline
        With pandas output; fitting it on data lacking a group's columns raises a
        ``ValueError`` naming the group and the columns.

    Examples
    --------
    >>> from eihpredict.simulate import simulate_cohort
    >>> X = simulate_cohort(50, seed=0).frame
    >>> features = build_feature_pipeline(["cpm", "ts"]).fit_transform(X)
    >>> list(features.columns[:3])
    ['cpm_abs', 'cpm_pct', 'cpm_paradigm_parallel']
    """
    if model_kind not in _PREPARE:
        raise ValueError(f"Got model_kind={model_kind!r}; expected 'tree' or 'linear'.")
    union = build_feature_union(groups, options=options, covariates=covariates)
    return Pipeline([("features", union), *_PREPARE[model_kind]()]).set_output(
        transform="pandas")


def build_feature_union(
    groups: Iterable[str] = DEFAULT_FEATURE_GROUPS,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    covariates: Iterable[str] = (),
) -> FeatureUnion:
    """The features of the named groups side by side, before any imputation or scaling
    (the first stage of :func:`build_feature_pipeline`; same parameters).

    Examples
    --------
    >>> from eihpredict.simulate import simulate_cohort
    >>> X = simulate_cohort(50, seed=0).frame
    >>> union = build_feature_union(["cpm"]).set_output(transform="pandas")
    >>> list(union.fit_transform(X).columns[:2])
    ['cpm_abs', 'cpm_pct']
    """
    groups = list(dict.fromkeys(groups))
    known = feature_groups()
    unknown = [g for g in groups if g not in known]
    if unknown or not groups:
        raise ValueError(
            f"Got feature groups {unknown or groups!r}; expected a non-empty list from "
            f"{', '.join(known)}."
        )
    options = dict(options or {})
    steps = []
    for group in groups:
        if group in _SINGLE:
            steps.append((group, _SINGLE[group](**options.get(group, {}))))
    scorers: dict[str, list[str]] = {}  # pipeline step -> instruments it scores
    for inst in INSTRUMENTS.values():
        if inst.name in groups:
            scorers.setdefault(inst.pipeline_step, []).append(inst.name)
    for step, names in scorers.items():
        kwargs: dict[str, Any] = {}
        if step != "questionnaires":  # the v1 scorer keeps its default (0.2) for all three
            kwargs["max_missing_fraction"] = None  # each instrument's declared rule
        for q in names:
            kwargs.update(options.get(q, {}))
        steps.append((step, QuestionnaireScorer(tuple(names), **kwargs)))
    clinical = tuple(g for g in CLINICAL_GROUPS if g in groups)
    if clinical:
        steps.append(("clinical", ClinicalFeatures(groups=clinical)))
    covariates = tuple(covariates)
    if covariates:
        steps.append(("covariates", OutcomeCovariates(columns=covariates)))
    return FeatureUnion(steps, verbose_feature_names_out=False)


#: Steps between the features and the estimator, per model flavour.
_PREPARE = {
    "tree": lambda: [],  # LightGBM handles missing values itself
    "linear": lambda: [("impute", ImputeWithIndicators()), ("scale", StandardScaler())],
}


def feature_options(group: str) -> tuple[str, ...]:
    """The option names a pipeline config may give a feature group under
    ``features.options`` (its transformer's parameters; the group structure itself is
    not an option).

    Examples
    --------
    >>> feature_options("cpm")
    ('encode_protocol', 'k', 'percent_threshold', 'responder_rule', 'sem_kpa')
    >>> "max_missing_fraction" in feature_options("pcs")
    True
    """
    known = feature_groups()
    if group not in known:
        raise ValueError(f"Got feature group {group!r}; expected one of "
                         f"{', '.join(known)}.")
    if group in _SINGLE:
        cls = _SINGLE[group]
    elif group in INSTRUMENTS:  # every instrument is scored by a QuestionnaireScorer
        cls = QuestionnaireScorer
    elif group in CLINICAL_GROUPS:
        cls = ClinicalFeatures
    else:  # pragma: no cover - every group has a transformer above
        return ()
    structural = {"groups", "questionnaires", "columns"}
    return tuple(sorted(set(cls._get_param_names()) - structural))
