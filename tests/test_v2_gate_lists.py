"""Engine 2.0.0's content gates in both directions, from its own rule data: every term of every phrase list fires
in action, every exception keeps its gate quiet, and cases found on real screenplays (rewritten in our words) stay
decided the way a crew would decide them."""

from __future__ import annotations

from typing import Any

import pytest

import test_v2_explain
from prodscale.storage.project import load_rules

RULES = {r["code"]: r for r in load_rules("2.0.0").data["sanitize.toml"]["rule"]}
EXISTENCE = ["PS101", "PS102", "PS104", "PS105", "PS106", "PS108"]


def codes(body: str) -> list[tuple[str, str]]:
    result = test_v2_explain.compile_v2("Title: x\n\nINT. HALL - DAY\n\nNELL (40) waits.\n\n" + body + "\n")
    return [(d["code"], d["extra"]["match"].casefold()) for d in result["diagnostics"]
            if d["code"] in ("PS101", "PS102", "PS103", "PS104", "PS105", "PS106", "PS108", "PS120")]


def cases(field: str, codes_: list[str]) -> list[Any]:
    return [pytest.param(code, term, id=f"{code}-{term}") for code in codes_ for term in RULES[code].get(field, [])]


@pytest.mark.parametrize("code, term", cases("terms", EXISTENCE))
def test_every_term_fires_in_action(code: str, term: str) -> None:
    assert (code, term) in codes(f"Then, at the window: {term}.")


@pytest.mark.parametrize("code, phrase", cases("exceptions", EXISTENCE))
def test_every_exception_keeps_its_gate_quiet(code: str, phrase: str) -> None:
    assert not [c for c, _ in codes(f"Then, at the window: {phrase}.") if c == code]


@pytest.mark.parametrize("minor", RULES["PS103"]["terms"])
def test_a_minor_beside_sexual_content_is_a_stop(minor: str) -> None:
    assert ("PS103", minor) in codes(f"The {minor} stands there, naked.")


@pytest.mark.parametrize("other", RULES["PS103"]["with"])
def test_each_sexual_term_beside_a_minor_is_a_stop(other: str) -> None:
    assert [c for c, _ in codes(f"A teenager, then: {other}.") if c == "PS103"]


@pytest.mark.parametrize("body", [
    "The child sleeps under a naked bulb.",           # a bare light bulb, not nudity
    "The children sip juice; their parents order a sex on the beach.",
])
def test_minors_gate_does_not_stop_innocent_lines(body: str) -> None:
    assert not [c for c, _ in codes(body) if c == "PS103"]


@pytest.mark.parametrize("body, expected", [
    # found on real scripts: a cocktail, a sound, a face, a spoken word
    ("She orders a sex on the beach at the bar.", []),
    ("A sexy saxophone riff plays on the radio.", []),
    ("The groans grow more tortured.", []),
    ("NELL\nWas it suicide?", [("PS120", "suicide")]),
    ("NELL\nHow's the sex?", [("PS120", "sex")]),
    # shown: still reported by its gate
    ("He cuts himself on purpose, slowly.", [("PS105", "cuts himself")]),
    ("A man, naked, runs down the aisle.", [("PS102", "naked")]),
    ("The blade slits his throat.", [("PS104", "slits his throat")]),
    ("The kitchen looks like a massacre.", [("PS120", "massacre")]),        # a comparison, no depiction
    ("The fight makes the new films look like fucking 1960s Batman.", [("PS120", "batman")]),
    ("The only words not blacked out are “car” and “Harry Potter.”", [("PS120", "harry potter")]),
    ("A boy in a Harry Potter costume waves.", [("PS108", "harry potter")]),    # shown: still a stop
    ("A massacre in the square.", [("PS104", "massacre")]),
])
def test_real_script_cases(body: str, expected: list[tuple[str, str]]) -> None:
    assert codes(body) == expected
