"""Bring your own cohort: map a study's spreadsheet onto the cohort contract.

Real data arrives with other column names, other units and other item codings. These
helpers make the conversion explicit and checkable, before :func:`validate_frame`. For a
study whose files keep arriving, write the same once as a mapping file instead
(:class:`eihpredict.mapping.StudyMapping`, ``docs/mapping.md``): validate, train and
score then apply it themselves.

* :func:`convert_pressure`: PPTs in kg/cm2 (x 98.0665), N/cm2 (x 10), lbf/cm2 or psi to kPa;
* :func:`recode_items`: shift item codes (TSK answered 0-3 instead of 1-4, PCS 1-5);
* :func:`harmonize`: rename, convert units, recode items and lower-case categories in
  one call, returning a new frame (the input is never modified). Category codes match
  as numbers or text alike (``1``, ``1.0``, ``"1"``); a value the mapping does not list
  and that is not already a contract value is an error naming it and its rows.

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"ID": ["a"], "Sex": ["F"], "PPT_quad": [4.5], "TSK1": [0]})
>>> out = harmonize(raw, rename={"ID": "participant_id", "Sex": "sex",
...                              "PPT_quad": "ppt_local_kpa", "TSK1": "tsk_01"},
...                 units={"ppt_local_kpa": "kg/cm2"}, item_offsets={"tsk": 1},
...                 categories={"sex": {"f": "female", "m": "male"}})
>>> out.loc[0, "sex"], float(out.loc[0, "ppt_local_kpa"]), int(out.loc[0, "tsk_01"])
('female', 441.3, 1)
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .mapping import PRESSURE_TO_KPA, MappingError, StudyMapping, unit_factor
from .schema import COLUMN_BY_NAME, QUESTIONNAIRES

__all__ = ["PRESSURE_TO_KPA", "convert_pressure", "harmonize", "recode_items"]


def convert_pressure(values: pd.Series, unit: str, *, decimals: int = 1) -> pd.Series:
    """Convert pressure values to kPa, rounded to ``decimals``.

    Raises
    ------
    ValueError
        For an unknown unit (the message lists the known ones).
    """
    try:
        factor = unit_factor(COLUMN_BY_NAME["ppt_local_kpa"], unit)
    except MappingError:
        raise ValueError(f"Got unit={unit!r}; expected one of {', '.join(PRESSURE_TO_KPA)}."
                         ) from None
    return (pd.to_numeric(values, errors="raise") * factor).round(decimals)


def recode_items(frame: pd.DataFrame, questionnaire: str, offset: int) -> pd.DataFrame:
    """Add ``offset`` to every item column of a questionnaire present in ``frame``."""
    if questionnaire not in QUESTIONNAIRES:
        raise ValueError(f"Got questionnaire={questionnaire!r}; expected one of "
                         f"{', '.join(QUESTIONNAIRES)}.")
    out = frame.copy()
    for item in QUESTIONNAIRES[questionnaire].items:
        if item in out:
            out[item] = pd.to_numeric(out[item], errors="raise") + offset
    return out


def harmonize(frame: pd.DataFrame, *, rename: Mapping[str, str] | None = None,
              units: Mapping[str, str] | None = None,
              item_offsets: Mapping[str, int] | None = None,
              categories: Mapping[str, Mapping[str, str]] | None = None) -> pd.DataFrame:
    """Rename columns, convert pressure units, recode items and map category labels.

    Parameters
    ----------
    rename : mapping
        Study column name -> contract column name.
    units : mapping
        Contract pressure column -> unit of the study's values (see :data:`PRESSURE_TO_KPA`).
    item_offsets : mapping
        Questionnaire -> offset added to its items (``{"tsk": 1}`` for 0-3 codes).
    categories : mapping
        Contract category column -> {study code or label: contract value}. Codes match
        case-insensitively and as numbers or text alike (``1``, ``1.0``, ``"1"``).

    Returns
    -------
    DataFrame
        A new frame; validate it with :func:`eihpredict.validate_frame`.

    Raises
    ------
    ValueError
        For a value of a category column that ``categories`` does not map and that is
        not already one of the contract's values (naming column, value and rows).
    """
    out = frame.rename(columns=dict(rename or {})).copy()
    for column, unit in (units or {}).items():
        if column not in out:
            raise ValueError(f"units names column {column!r}, which the data lacks")
        spec = COLUMN_BY_NAME.get(column)
        if spec is None or spec.unit != "kPa":
            raise ValueError(f"{column!r} is not a pressure column of the contract")
        out[column] = convert_pressure(out[column], unit)
    for questionnaire, offset in (item_offsets or {}).items():
        out = recode_items(out, questionnaire, offset)
    problems = []
    for column, codes in (categories or {}).items():
        if column not in out:
            raise ValueError(f"categories names column {column!r}, which the data lacks")
        study = StudyMapping.from_dict({"columns": {column: {"from": column,
                                                             "codes": dict(codes)}}},
                                       source="categories")
        mapped, report = study.apply(out[[column]])
        out[column] = mapped[column].to_numpy()
        known = ", ".join(f"{k} -> {v}" for k, v in codes.items())
        problems += [f"{u.contract_column}: value {u.value!r} in {u.count} row(s) (rows "
                     f"{', '.join(map(str, u.rows))}) is not in the categories mapping "
                     f"({known})" for u in report.unmapped_values]
    if problems:
        raise ValueError("; ".join(problems))
    return out
