"""Property-based fuzzing of /predict over the OpenAPI schema: never a 5xx."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eihpredict.schema import COLUMNS

FIELDS = [c for c in COLUMNS if not c.training_only]

anything = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=12), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def value_for(spec):
    """Mostly plausible values for the field, sometimes anything at all."""
    if spec.kind == "category":
        plausible = st.sampled_from([*spec.categories, spec.categories[0].upper(), "other"])
    elif spec.kind == "string":
        plausible = st.text(min_size=0, max_size=8)
    else:
        lo = spec.min if spec.min is not None else -5
        hi = spec.max if spec.max is not None else 1e4
        plausible = st.one_of(st.integers(int(lo) - 2, int(hi) + 2),
                              st.floats(lo - 1, hi + 1, allow_nan=False))
    return st.one_of(plausible, plausible, anything)


participant = st.fixed_dictionaries(
    {"participant_id": st.one_of(st.text(min_size=1, max_size=6), anything),
     "sex": value_for(next(c for c in COLUMNS if c.name == "sex"))},
    optional={c.name: value_for(c) for c in FIELDS if c.name not in ("participant_id", "sex")},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(st.lists(participant, min_size=1, max_size=3), st.integers(-1, 25))
def test_predict_never_answers_5xx(make_client_session, participants, explain):
    response = make_client_session.post(f"/predict?explain={explain}",
                                        json={"participants": participants})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        for item in response.json()["detail"]:
            assert item["field"] and item["rule"]
    else:
        assert len(response.json()["predictions"]) == len(participants)
