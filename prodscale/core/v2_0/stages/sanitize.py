"""sanitize (engine 2.0.0): engine 1.x's content gates over 2.0.0's scene model.

The gates, the matching and the rewrites are 1.x's (:mod:`prodscale.core.stages.sanitize`, frozen).
What 2.0.0 adds is what it scans: secondary slugs (``slug``) and title cards (``card``) are text a
generator sees, as action is; structure labels (``ACT ONE``) are not. And the real-people check (PS107,
kind ``names``) reads a sourced list of 6,903 people through :mod:`prodscale.core.v2_0.people`, on what is
shown, not on what is said.

Output: ``{"diagnostics", "rewrites", "scene", "blocked"}`` as in 1.x.
"""

from __future__ import annotations

from typing import Any

import orjson

from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import diag, sort_diags, sub_span
from prodscale.core.stages.sanitize import _replacement, apply_rewrites, gate_rules, rules_for, scan, terms_may_match
from prodscale.core.v2_0.people import find_people

VERSION = 1
SCANNED_KINDS = ("heading", "slug", "card", "action", "dialogue", "parenthetical", "transition", "lyrics",
                 "centered", "character")


def _units(scene: dict[str, Any]) -> list[tuple[str, str, dict[str, int], int | None]]:
    """(kind, text, span, element index or None for the heading) for every scanned text."""
    units: list[tuple[str, str, dict[str, int], int | None]] = []
    if scene.get("heading"):
        units.append(("heading", scene["heading"], scene["heading_span"], None))
    for i, el in enumerate(scene.get("elements", [])):
        if el["kind"] in SCANNED_KINDS:
            units.append((el["kind"], el["text"], el["span"], i))
    return units


def _rewrite_heading(scene: dict[str, Any], new_scene: dict[str, Any], data: dict[str, Any], new_text: str) -> None:
    new_scene["heading"] = new_text
    subs = [r for r in gate_rules(data) if r["kind"] == "substitution" and "heading" in r.get("scope", [])]
    for field in ("set", "area", "location"):
        value = scene.get(field)
        if value:
            hits = [(h, str(v["replacement"])) for r in subs for h, v in scan(r, value)]
            new_scene[field] = apply_rewrites(value, hits, True)


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    scene = inputs["scene"]
    data = rules["sanitize.toml"]
    diags: list[dict[str, Any]] = []
    rewrites: list[dict[str, Any]] = []
    new_scene = orjson.loads(orjson.dumps(scene))
    gates = gate_rules(data)
    for kind, text, span, index in _units(scene):
        pending: list[tuple[Any, str]] = []
        may = terms_may_match(gates, text)
        for rule in rules_for(gates, may):   # 1.x's gates, and the names rules (kind "names") routed below
            if kind not in rule.get("scope", []):
                continue
            found = (find_people(text, rule, rules[rule["list"]], scene.get("own_names", ()))
                     if rule["kind"] == "names" else scan(rule, text, may))
            for hit, values in found:
                hspan = sub_span(span, text, hit.start, hit.end)
                values = {"match": hit.text, **values}
                extra = {"match": values["match"], "element": kind}
                if rule["kind"] == "substitution":
                    raw = str(values["replacement"])
                    rep = _replacement(text, hit, raw, kind == "heading")
                    values["replacement"] = rep
                    pending.append((hit, raw))
                    rewrites.append({"from": hit.text, "to": rep, "span": hspan, "code": rule["code"]})
                    extra["replacement"] = rep
                diags.append(diag(rule, hspan, extra, **values))
        if pending:
            new_text = apply_rewrites(text, pending, index is None)
            if index is None:
                _rewrite_heading(scene, new_scene, data, new_text)
            else:
                new_scene["elements"][index]["text"] = new_text
    rewrites.sort(key=lambda r: (r["span"]["start_line"], r["span"]["start_col"], r["code"], r["from"]))
    diags = sort_diags(diags)
    return {"diagnostics": diags, "rewrites": rewrites, "scene": new_scene,
            "blocked": any(d["severity"] == "error" for d in diags)}


SPEC = StageSpec(name="sanitize", version=VERSION, rule_files=("sanitize.toml", "lists/real_people.tsv"), settings=(),
                 inputs=("scene",), run=run)
