"""Rule fixtures in the semgrep style: every rule fires where it must and nowhere it must not.

Each ``tests/fixtures/rules/*.fountain`` file holds annotations as Fountain notes:

- ``[[expect PS101]]`` on its own line: the next paragraph (the following non-blank lines up to a
  blank line, annotation lines skipped) must get a PS101 diagnostic;
- ``[[ok PS101]]``: it must not;
- written at the end of a line (``INT. SHED - DAY [[expect PS207]]``) it covers that line only.
- ``[[fixture {json}]]`` gives the settings the stages read (profile, style, characters,
  acknowledge).

The runner compiles each file through all four stages and the aggregation (as the engine does)
and reports hits, misses and false alarms per rule; it fails on any miss or false alarm, and when
a rule of engine 1.0.0 has no ``expect`` or no ``ok`` case anywhere.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from prodscale.core.fountain import parse
from prodscale.core.scenes import scene_units
from prodscale.core.stages import aggregate, prompts, sanitize, shot_specs, src

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules" / "1.0.0"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "rules"
STAGE_SPECS = (sanitize.SPEC, shot_specs.SPEC, prompts.SPEC, src.SPEC)
ANNOT = re.compile(r"\[\[\s*(expect|ok)\s+(PS\d{3})\s*\]\]")
FIXTURE_SETTINGS = re.compile(r"\[\[fixture (\{.*\})\]\]")
DEFAULT_SETTINGS: dict[str, Any] = {"project.profile": "generic", "style": {"look": "film look", "aspect": "16:9"},
                                    "characters": {}, "acknowledge": []}


def load_rules() -> dict[str, dict[str, Any]]:
    return {p.name: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(RULES_DIR.glob("*.toml"))}


RULES = load_rules()


def compile_story(text: str, settings: dict[str, Any] | None = None, name: str = "fixture",
                  rules: dict[str, dict[str, Any]] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every stage of every scene and the aggregation, like the engine: (result, scene records)."""
    rules = rules or RULES
    sets = {**DEFAULT_SETTINGS, **(settings or {})}
    story = parse(text, path=f"stories/{name}.fountain")
    scenes = []
    for unit in scene_units(story):
        outs: dict[str, Any] = {}
        for spec in STAGE_SPECS:
            ins = {d: (unit.payload if d == "scene" else outs[d]) for d in spec.inputs}
            outs[spec.name] = spec.run(ins, {f: rules[f] for f in spec.rule_files},
                                       {k: sets.get(k) for k in spec.settings})
        scenes.append({"index": unit.index, "line_offset": unit.line_offset, "heading": unit.heading,
                       "number": unit.number, **outs})
    meta = {"name": name, "path": f"stories/{name}.fountain",
            "title_page": {f.key: f.value for f in story.title_page},
            "prologue_diagnostics": [w.to_dict() for w in story.warnings], "engine": "1.0.0"}
    agg = aggregate.SPEC
    result = agg.run(meta, scenes, {f: rules[f] for f in agg.rule_files},  # type: ignore[call-arg]
                     {k: sets.get(k) for k in agg.settings})
    return result, scenes


def annotations(text: str) -> list[tuple[str, str, int, int, int]]:
    """[(expect|ok, code, first line, last line, annotation line)] of a fixture."""
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines, start=1):
        for m in ANNOT.finditer(line):
            rest = ANNOT.sub("", line).strip()
            if rest:
                out.append((m.group(1), m.group(2), i, i, i))
                continue
            j = i  # next paragraph: skip annotation-only lines
            while j < len(lines) and (not lines[j].strip() or ANNOT.fullmatch(lines[j].strip())
                                      or re.fullmatch(r"(\s*\[\[[^\]]*\]\]\s*)+", lines[j]) and
                                      ANNOT.search(lines[j])):
                j += 1
            first = j + 1
            k = j
            while k < len(lines) and lines[k].strip():
                k += 1
            out.append((m.group(1), m.group(2), first, max(first, k), i))
    return out


def run_fixture(path: Path) -> dict[str, dict[str, list[str]]]:
    text = path.read_text(encoding="utf-8")
    m = FIXTURE_SETTINGS.search(text)
    settings = json.loads(m.group(1)) if m else {}
    result, _ = compile_story(text, settings, name=path.stem)
    report: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"hits": [], "misses": [], "false_alarms": [],
                                                                   "spared": []})
    for kind, code, first, last, at in annotations(text):
        found = [d for d in result["diagnostics"] if d["code"] == code and d.get("span")
                 and first <= d["span"]["start_line"] <= last]
        where = f"{path.name}:{at}"
        if kind == "expect":
            report[code]["hits" if found else "misses"].append(where)
        else:
            report[code]["false_alarms" if found else "spared"].append(where + (
                f" ({found[0]['message']})" if found else ""))
    return report


def full_report() -> dict[str, dict[str, list[str]]]:
    total: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"hits": [], "misses": [], "false_alarms": [],
                                                                  "spared": []})
    for path in sorted(FIXTURES.glob("*.fountain")):
        for code, r in run_fixture(path).items():
            for k, v in r.items():
                total[code][k].extend(v)
    return total


def all_rule_codes() -> list[str]:
    return sorted(r["code"] for f in ("sanitize.toml", "shot_specs.toml", "prompts.toml", "src.toml")
                  for r in RULES[f].get("rule", []))


@pytest.fixture(scope="module")
def report() -> dict[str, dict[str, list[str]]]:
    return full_report()


@pytest.mark.parametrize("code", all_rule_codes())
def test_rule_fixture(code: str, report: dict[str, dict[str, list[str]]]) -> None:
    r = report.get(code, {"hits": [], "misses": [], "false_alarms": [], "spared": []})
    summary = f"{code}: {len(r['hits'])} hits, {len(r['misses'])} misses, {len(r['false_alarms'])} false alarms"
    assert not r["misses"], f"{summary}; missed at {r['misses']}"
    assert not r["false_alarms"], f"{summary}; false alarms at {r['false_alarms']}"
    assert r["hits"], f"{code} has no [[expect {code}]] case"
    assert r["spared"], f"{code} has no [[ok {code}]] case"


def test_fixture_annotations_name_known_codes() -> None:
    known = set(all_rule_codes())
    for path in sorted(FIXTURES.glob("*.fountain")):
        for _, code, *_ in annotations(path.read_text(encoding="utf-8")):
            assert code in known, f"{path.name} annotates unknown code {code}"
