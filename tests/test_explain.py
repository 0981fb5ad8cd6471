"""`prodscale explain`: every code is documented, and its failing and passing examples are true."""

from __future__ import annotations

import pytest

from prodscale.core.explain import all_codes, explain
from prodscale.errors import UsageError
from test_rules_fixtures import RULES, all_rule_codes, compile_story

DOCS = RULES["explain.toml"]["code"]


def test_every_rule_is_documented() -> None:
    missing = [c for c in all_rule_codes() if c not in DOCS]
    assert not missing, f"codes without explain.toml entry: {missing}"
    for code in all_rule_codes():
        for key in ("what", "why", "fail", "pass", "fix"):
            assert DOCS[code].get(key), f"{code} has no {key}"


@pytest.mark.parametrize("code", sorted(DOCS))
def test_examples_are_true(code: str) -> None:
    doc = DOCS[code]
    settings = doc.get("settings", {})
    failing, _ = compile_story("Title: example\n\n" + doc["fail"], settings)
    assert code in {d["code"] for d in failing["diagnostics"]}, f"{code}: failing example does not trigger it"
    passing, _ = compile_story("Title: example\n\n" + doc["pass"], {} if code in ("PS206", "PS207") else settings)
    found = [d for d in passing["diagnostics"] if d["code"] == code]
    assert not found, f"{code}: passing example triggers it: {found[0]['message']}"


@pytest.mark.parametrize("code", all_rule_codes())
def test_explain_text_has_the_sections(code: str) -> None:
    text = explain(code, RULES)
    assert text.startswith(code)
    for section in ("What it checks", "Why a production cares", "Example that triggers it",
                    "Example that does not", "How to fix it", "Acknowledging"):
        assert section in text, f"{code}: no '{section}'"
    assert "since engine 1.0.0" in text
    level = next(r["level"] for f in ("sanitize.toml", "shot_specs.toml", "prompts.toml", "src.toml")
                 for r in RULES[f].get("rule", []) if r["code"] == code)
    if level == "error":
        assert "cannot be acknowledged" in text
    else:
        assert f"[[prodscale: allow {code}" in text


def test_explain_is_case_insensitive_and_deterministic() -> None:
    assert explain("ps403", RULES) == explain("PS403", RULES)


def test_unknown_code() -> None:
    with pytest.raises(UsageError):
        explain("PS999", RULES)


def test_all_codes_lists_rule_and_parser_codes() -> None:
    codes = all_codes(RULES)
    assert set(all_rule_codes()) <= set(codes)
    assert codes == sorted(codes)


def test_parser_codes_are_explained() -> None:
    from prodscale.core import fountain
    parser_codes = getattr(fountain, "PARSER_CODES", None)
    if not parser_codes:
        pytest.skip("parser exposes no PARSER_CODES")
    for code in parser_codes:
        text = explain(code, RULES)
        assert text.startswith(code)
        assert code not in all_rule_codes(), f"{code} is used by both the parser and a rule file"
