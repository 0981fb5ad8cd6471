"""prompts (engine 2.0.0): engine 1.x's prompt rendering over 2.0.0's shots.

2.0.0's shots already carry what 1.x's renderer reads: ``time_of_day`` is the resolved light
(never CONTINUOUS), ``subjects`` every character the shot shows (not only speakers), so the
character bible reaches every clip that shows a character. Generator-specific splitting and
packing are engine 2.0.0 part 2.

The gates run again on every materialized prompt (1.x's PS204/PS205). The real-people check (PS107)
reads a sourced list (kind ``names``) that 1.x's gates do not know: the names it finds in the project's
style and character bible become the prompt gate's terms. In a prompt a comparison is a likeness
request ("looks exactly like Tom Cruise"), so only things named after a person are left out there.
"""

from __future__ import annotations

from typing import Any

from prodscale.core.stages import StageSpec
from prodscale.core.stages.prompts import run as run_1x
from prodscale.core.v2_0.people import find_people

VERSION = 1


def _settings_texts(settings: dict[str, Any]) -> list[str]:
    style = settings.get("style") or {}
    texts = [str(v) for v in style.values() if isinstance(v, str)] if isinstance(style, dict) else []
    for entry in (settings.get("characters") or {}).values():
        desc = entry.get("description", "") if isinstance(entry, dict) else str(entry)
        texts.append(str(desc))
    return texts


def prompt_gates(rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The sanitize rules as 1.x's prompt gate reads them: each ``names`` rule an ``existence`` rule
    of the real names the style and the character bible hold."""
    data = rules["sanitize.toml"]
    texts = _settings_texts(settings)
    out = []
    for rule in data.get("rule", []):
        if rule["kind"] != "names":
            out.append(rule)
            continue
        as_prompt = {**rule, "not_before": []}
        found = sorted({hit.text for t in texts for hit, _ in find_people(t, as_prompt, rules[rule["list"]])})
        if found:
            out.append({k: v for k, v in rule.items() if k not in ("list", "not_before", "not_after")}
                       | {"kind": "existence", "terms": found, "exceptions": []})
    return {**rules, "sanitize.toml": {**data, "rule": out}}


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    return run_1x(inputs, prompt_gates(rules, settings), settings)


SPEC = StageSpec(name="prompts", version=VERSION, rule_files=("prompts.toml", "sanitize.toml", "lists/real_people.tsv"),
                 settings=("project.profile", "style", "characters"), inputs=("sanitize", "shot_specs"), run=run)
