"""Engine 2.1.0 (a preview: 2.0.0's code, its own rule data): what it changes, and that it changes nothing else.

Its first change (issue 14): `EXT. LISBON HARBOUR, 1488 - DAY` was blocked as hate speech by 2.0.0, whose
PS106 list held "1488" and read headings. 2.1.0 moves the number to PS122, which reads what is shown or said
(not headings, slugs, title cards) and knows the phrases that make it a year."""

from __future__ import annotations

from typing import Any

import pytest
from test_v2_explain import NOT_REPORTED, compile_on

from prodscale.core.engines import ENGINES, get_engine, newest
from prodscale.core.explain import all_codes
from prodscale.storage.project import load_rules

ENGINE = get_engine("2.1.0")
RULES = load_rules("2.1.0").data
DOCS = RULES["explain.toml"]["code"]


def _hits(version: str, text: str) -> list[tuple[str, int]]:
    out = compile_on(version, "Title: t\n\n" + text)
    return sorted((d["code"], d["span"]["start_line"]) for d in out["diagnostics"] if d["code"] in ("PS106", "PS122"))


PERIOD = """EXT. LISBON HARBOUR, 1488 - DAY

Caravels rock at anchor. In 1488 the harbour never sleeps.

MARINER
Since 1488 no ship has left without a priest.
"""

HATE = """INT. BAR - NIGHT

A skinhead rolls up his sleeve: a 1488 tattoo.

SKINHEAD
We are 1488.
"""


def test_a_year_in_a_heading_or_as_a_year_is_no_hate_code_on_2_1_0_as_it_was_on_2_0_0() -> None:
    assert _hits("2.0.0", PERIOD) == [("PS106", 3), ("PS106", 5), ("PS106", 8)]   # frozen, as shipped
    assert _hits("2.1.0", PERIOD) == []


def test_the_hate_code_itself_is_still_a_hard_stop() -> None:
    assert _hits("2.1.0", HATE) == [("PS122", 5), ("PS122", 8)]
    assert _hits("2.0.0", HATE) == [("PS106", 5), ("PS106", 8)]
    out = compile_on("2.1.0", "Title: t\n\n" + HATE)
    assert out["summary"]["status"] == "blocked"


def test_2_1_0_is_a_preview_never_a_default() -> None:
    assert ENGINES["2.1.0"].preview and newest() == "2.0.0"
    assert load_rules("2.1.0").data["index.toml"]["meta"]["preview"] is True


def test_every_rule_of_2_1_0_is_documented_and_its_files_validate() -> None:
    from prodscale.core.rules_loader import validate_rule_file
    codes = sorted(r["code"] for f in ("sanitize.toml", "shot_specs.toml", "prompts.toml", "src.toml",
                                       "reading.toml") for r in RULES[f].get("rule", []))
    assert [c for c in codes if c not in DOCS] == [] and set(codes) <= set(all_codes(RULES))
    for name, data in sorted(RULES.items()):
        validate_rule_file(name, data)


@pytest.mark.parametrize("code", sorted(set(DOCS) - NOT_REPORTED))
def test_examples_are_true_on_engine_2_1_0(code: str) -> None:
    doc = DOCS[code]
    settings = doc.get("settings", {})
    failing = compile_on("2.1.0", "Title: example\n\n" + doc["fail"], settings)
    assert code in {d["code"] for d in failing["diagnostics"]}, f"{code}: failing example does not trigger it"
    passing = compile_on("2.1.0", "Title: example\n\n" + doc["pass"], {} if code in ("PS206", "PS207") else settings)
    assert not [d for d in passing["diagnostics"] if d["code"] == code], f"{code}: passing example triggers it"


def _without(data: Any, drop: set[str]) -> Any:
    return {k: v for k, v in data.items() if k not in drop} if isinstance(data, dict) else data


def test_2_1_0_differs_from_2_0_0_only_where_changes_md_says() -> None:
    """The rule data is 2.0.0's but for the documented changes: a change slipped in unannounced fails here."""
    old, new = load_rules("2.0.0").data, RULES
    assert sorted(old) == sorted(new)
    for name in sorted(old):
        a, b = old[name], new[name]
        if not isinstance(a, dict):     # a list (real_people.tsv): the same rows
            assert a == b, name
            continue
        a, b = dict(a), dict(b)
        for side in (a, b):
            if "meta" in side:
                side["meta"] = _without(side["meta"], {"engine", "preview"})
        if name == "sanitize.toml":
            rules_a = {r["code"]: r for r in a.pop("rule")}
            rules_b = {r["code"]: r for r in b.pop("rule")}
            assert set(rules_b) - set(rules_a) == {"PS122"}
            assert [t for t in rules_a["PS106"]["terms"] if t not in rules_b["PS106"]["terms"]] == ["1488"]
            rules_a["PS106"] = rules_b["PS106"]
            del rules_b["PS122"]
            for code in sorted(rules_a):   # help texts name their own engine's lists folder
                assert _paths(rules_a[code]) == _paths(rules_b[code]), code
        if name == "explain.toml":
            docs_a, docs_b = dict(a.pop("code")), dict(b.pop("code"))
            assert set(docs_b) - set(docs_a) == {"PS122"}
            del docs_b["PS122"]
            assert _paths(docs_a) == _paths(docs_b)
        assert _paths(a) == _paths(b), name


def _paths(data: Any) -> Any:
    """The data with rules/2.0.0/ and rules/2.1.0/ path mentions made alike."""
    if isinstance(data, dict):
        return {k: _paths(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_paths(v) for v in data]
    if isinstance(data, str):
        return data.replace("rules/2.1.0/", "rules/2.0.0/")
    return data
