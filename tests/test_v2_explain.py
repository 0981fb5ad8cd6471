"""Engine 2.0.0's `explain` documentation: every code its rule data defines is documented, and each
failing and passing example is true when compiled by engine 2.0.0 itself (reader, every stage and the
aggregation, in memory)."""

from __future__ import annotations

from typing import Any

import pytest

from prodscale.core.engines import get_engine
from prodscale.core.explain import all_codes, explain
from prodscale.core.fountain import parse
from prodscale.storage.project import load_rules

ENGINE = get_engine("2.0.0")
RULES = load_rules("2.0.0").data
DOCS = RULES["explain.toml"]["code"]
NOT_REPORTED = {"PS403"}   # defined for 1.x's checks that 2.0.0 runs, never reported by 2.0.0
SETTINGS: dict[str, Any] = {"project.profile": "generic", "style": {"look": "film look", "aspect": "16:9"},
                            "characters": {}, "acknowledge": [], "project.paper": "letter"}


def compile_on(version: str, text: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compile ``text`` in memory on an engine 2.x (reader, every stage and the aggregation)."""
    engine, rules = get_engine(version), load_rules(version).data
    sets = {**SETTINGS, **(settings or {})}
    story = parse(text, path="stories/example.fountain")
    reading = engine.read(story, rules)
    scenes = []
    for unit in reading.units:
        outs: dict[str, Any] = {}
        for spec in engine.stages:
            ins = {d: (unit.payload if d == "scene" else outs[d]) for d in spec.inputs}
            outs[spec.name] = spec.run(ins, {f: rules[f] for f in spec.rule_files},
                                       {k: sets.get(k) for k in spec.settings})
        scenes.append({"index": unit.index, "line_offset": unit.line_offset, "heading": unit.heading,
                       "number": unit.number, **outs})
    meta = {"name": "example", "path": "stories/example.fountain", "title_page": {},
            "prologue_diagnostics": [w.to_dict() for w in story.warnings], "engine": version, **reading.meta}
    agg = engine.aggregate
    return agg.run(meta, scenes, {f: rules[f] for f in agg.rule_files},  # type: ignore[call-arg]
                   {k: sets.get(k) for k in agg.settings})


def compile_v2(text: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    return compile_on("2.0.0", text, settings)


def rule_codes() -> list[str]:
    return sorted(r["code"] for f in ("sanitize.toml", "shot_specs.toml", "prompts.toml", "src.toml", "reading.toml")
                  for r in RULES[f].get("rule", []))


def test_every_rule_of_2_0_0_is_documented() -> None:
    missing = [c for c in rule_codes() if c not in DOCS]
    assert not missing
    assert set(rule_codes()) <= set(all_codes(RULES))


@pytest.mark.parametrize("code", sorted(set(DOCS) - NOT_REPORTED))
def test_examples_are_true_on_engine_2_0_0(code: str) -> None:
    doc = DOCS[code]
    settings = doc.get("settings", {})
    failing = compile_v2("Title: example\n\n" + doc["fail"], settings)
    assert code in {d["code"] for d in failing["diagnostics"]}, f"{code}: failing example does not trigger it"
    passing = compile_v2("Title: example\n\n" + doc["pass"], {} if code in ("PS206", "PS207") else settings)
    found = [d for d in passing["diagnostics"] if d["code"] == code]
    assert not found, f"{code}: passing example triggers it: {found[0]['message']}"


def test_2_0_0_codes_explain_themselves() -> None:
    text = explain("PS011", RULES)
    assert text.startswith("PS011") and "read (how engine 2.0.0 reads the script)" in text
    assert "since engine 2.0.0" in explain("PS416", RULES)


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "2.0.0"])
def test_every_rule_file_of_every_engine_validates(version: str) -> None:
    from prodscale.core.rules_loader import validate_rule_file
    for name, data in sorted(load_rules(version).data.items()):
        validate_rule_file(name, data)
