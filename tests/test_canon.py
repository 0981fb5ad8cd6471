"""Canonical JSON: sorted, stable, and floats refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodscale.core.canon import canonical_json, digest_obj, pretty_json

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text())
JSONISH = st.recursive(SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                       st.dictionaries(st.text(), kids, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_no_float_never_refused(obj) -> None:  # type: ignore[no-untyped-def]
    assert canonical_json(obj) == canonical_json(obj)
    pretty_json(obj)


@settings(max_examples=300, deadline=None)
@given(JSONISH, st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_is_refused(obj, number: float) -> None:  # type: ignore[no-untyped-def]
    for doc in ([obj, number], {"k": obj, "n": number}):
        with pytest.raises(TypeError):
            canonical_json(doc)
        with pytest.raises(TypeError):
            pretty_json(doc)


def test_sorted_keys_make_digests_order_independent() -> None:
    assert digest_obj({"b": 1, "a": [2, "x"]}) == digest_obj({"a": [2, "x"], "b": 1})
    assert canonical_json({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_nan_and_infinity_are_refused_too() -> None:
    # orjson would write them as null; the check refuses every float before that can happen
    for value in (math.nan, math.inf):
        with pytest.raises(TypeError):
            canonical_json({"x": value})
