"""sanitize: the content gates (PS1xx) over one scene.

Every rule in ``sanitize.toml`` reads the element kinds in its ``scope`` (never notes, sections,
synopses or boneyard; inline ``[[notes]]`` inside an element are blanked before matching).
Severity decides what happens: an ``error`` is a hard stop (the prompts of the shots it touches
are not materialized and the story is Blocked), a ``warning`` is reported, and a
``substitution`` rule rewrites the term deterministically in the sanitized scene and records the
rewrite (a ``note``). The same gate functions run again on every materialized prompt
(``prodscale.core.stages.prompts``).

Output: ``{"diagnostics", "rewrites": [{"from", "to", "span", "code"}], "scene", "blocked"}``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import orjson

from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import (fold, Hit, TermSet, blank_notes, diag, find_pattern, find_terms,
                                         per_rule_data, sort_diags, sub_span, term_set)

VERSION = 1
SCANNED_KINDS = ("heading", "action", "dialogue", "parenthetical", "transition", "lyrics", "centered",
                 "character")
DETERMINERS = {"a", "an", "the", "this", "that", "his", "her", "their", "my", "your", "our", "its",
               "some", "another", "one"}
_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.I)
_SENTENCE_END = re.compile(r"(?:^|[.!?]\s+|\n)$")


@lru_cache(maxsize=64)
def _control_re(extra_chars: tuple[str, ...]) -> re.Pattern[str]:
    """Unicode category Cc (U+0000-001F, U+007F-009F) but tab and newline, plus the rule's extras."""
    extra = "".join(re.escape(chr(int(c[2:], 16))) for c in extra_chars)
    return re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{extra}]")


TERM_KINDS = ("existence", "substitution", "cooccurrence")
@per_rule_data
def _union(rules: list[dict[str, Any]]) -> TermSet:
    """The terms of every term-list rule, as one set."""
    terms: list[str] = []
    for rule in rules:
        if rule["kind"] in TERM_KINDS:
            terms.extend(rule.get("terms", []))
            terms.extend(rule.get("with", []))
            terms.extend(rule.get("swap", {}))
    return term_set(tuple(sorted(set(terms))))


def terms_may_match(rules: list[dict[str, Any]], text: str) -> bool:
    """False when no term of any term-list rule occurs in ``text`` as a whole word: one check over the
    union of all lists lets a clean text skip every term rule (the exact per-rule match still decides)."""
    return _union(rules).search(fold(blank_notes(text))[0])


@per_rule_data
def _swap_terms(swap: dict[str, Any]) -> list[str]:
    """A substitution rule's terms, one list per rule (so its pattern is compiled once)."""
    return list(swap)


@per_rule_data
def _not_term_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rules if r["kind"] not in TERM_KINDS]


def rules_for(rules: list[dict[str, Any]], may_match: bool) -> list[dict[str, Any]]:
    """``rules``, or only those that are not term lists when no term can match."""
    return rules if may_match else _not_term_rules(rules)


def scan(rule: dict[str, Any], text: str, may_match: bool = True) -> list[tuple[Hit, dict[str, Any]]]:
    """The hits of one gate rule in ``text`` with the values its message needs; ``may_match=False``
    (from :func:`terms_may_match`) skips term-list rules."""
    kind = rule["kind"]
    if not may_match and kind in TERM_KINDS:
        return []
    text = blank_notes(text)
    out: list[tuple[Hit, dict[str, Any]]] = []
    if kind == "existence":
        out = [(h, {}) for h in find_terms(text, rule.get("terms", []), rule.get("exceptions", []))]
    elif kind == "substitution":
        swap = rule.get("swap", {})
        for h in find_terms(text, _swap_terms(swap), rule.get("exceptions", [])):
            key = " ".join(unicodedata.normalize("NFC", h.text).casefold().split())
            out.append((h, {"replacement": swap.get(key, swap.get(h.text.casefold(), ""))}))
    elif kind == "cooccurrence":
        with_hits = find_terms(text, rule.get("with", []), rule.get("exceptions", []))
        if with_hits:
            for h in find_terms(text, rule.get("terms", []), rule.get("exceptions", [])):
                out.append((h, {"other": with_hits[0].text}))
    elif kind == "pattern":
        exc = [e.casefold() for e in rule.get("exceptions", [])]
        min_digits = int(rule.get("min_digits", 0))
        for h in find_pattern(text, rule["pattern"]):
            low = h.text.casefold()
            digits = sum(c.isdigit() for c in h.text)
            if min_digits and not (min_digits <= digits <= 15):
                continue
            if any(e in low for e in exc):
                continue
            out.append((h, {}))
    elif kind == "control":
        for m in _control_re(tuple(rule.get("extra_chars", []))).finditer(text):
            i, ch = m.start(), m.group(0)
            out.append((Hit(i, i + 1, ch), {"match": f"U+{ord(ch):04X}"}))
    return out


def _units(scene: dict[str, Any]) -> list[tuple[str, str, dict[str, int], int | None]]:
    """(kind, text, span, element index or None for the heading) for every scanned text."""
    units: list[tuple[str, str, dict[str, int], int | None]] = []
    if scene.get("heading"):
        units.append(("heading", scene["heading"], scene["heading_span"], None))
    for i, el in enumerate(scene.get("elements", [])):
        if el["kind"] in SCANNED_KINDS:
            units.append((el["kind"], el["text"], el["span"], i))
    return units


def _replacement(text: str, hit: Hit, replacement: str, heading: bool = False) -> str:
    """The table's replacement fitted to its place: a determiner before the term (or a scene
    heading) drops the replacement's own article; a term in capitals gives capitals; a term that
    starts a sentence gives a capitalized replacement."""
    before = text[:hit.start]
    if heading:
        replacement = _ARTICLE.sub("", replacement)
    prev_word = re.search(r"([^\W_]+)\s+$", before)
    if prev_word and prev_word.group(1).casefold() in DETERMINERS:
        replacement = _ARTICLE.sub("", replacement)
    letters = [c for c in hit.text if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(letters) > 1:
        return replacement.upper()
    if hit.text[:1].isupper() and _SENTENCE_END.search(before):
        return replacement[:1].upper() + replacement[1:]
    return replacement


def apply_rewrites(text: str, hits: list[tuple[Hit, str]], heading: bool = False) -> str:
    """Replace non-overlapping hits (earliest, then longest first) with their replacements."""
    chosen: list[tuple[Hit, str]] = []
    last = -1
    for h, rep in sorted(hits, key=lambda x: (x[0].start, -x[0].end)):
        if h.start >= last:
            chosen.append((h, rep))
            last = h.end
    out = []
    pos = 0
    for h, rep in chosen:
        out.append(text[pos:h.start])
        out.append(_replacement(text, h, rep, heading))
        pos = h.end
    out.append(text[pos:])
    return "".join(out)


_GATES: dict[int, tuple[object, list[dict[str, Any]]]] = {}


def gate_rules(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate rules in code order (one list per rule data, so prefilters can be cached on it)."""
    hit = _GATES.get(id(data))
    if hit is None or hit[0] is not data:
        hit = (data, sorted(data.get("rule", []), key=lambda r: r["code"]))
        if len(_GATES) < 256:
            _GATES[id(data)] = hit
    return hit[1]


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    scene = inputs["scene"]
    data = rules["sanitize.toml"]
    diags: list[dict[str, Any]] = []
    rewrites: list[dict[str, Any]] = []
    new_scene = orjson.loads(orjson.dumps(scene))  # a deep copy of plain JSON data, at C speed
    gates = gate_rules(data)
    for kind, text, span, index in _units(scene):
        pending: list[tuple[Hit, str]] = []
        may = terms_may_match(gates, text)
        for rule in rules_for(gates, may):
            if kind not in rule.get("scope", []):
                continue
            for hit, values in scan(rule, text, may):
                hspan = sub_span(span, text, hit.start, hit.end)
                values = {"match": hit.text, **values}  # control characters name themselves U+XXXX
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
                new_scene["heading"] = new_text
                for field in ("location", "time_of_day"):
                    value = scene.get(field)
                    if value:
                        fhits = [(h, str(v["replacement"])) for r in gate_rules(data)
                                 if r["kind"] == "substitution" and "heading" in r.get("scope", [])
                                 for h, v in scan(r, value)]
                        new_scene[field] = apply_rewrites(value, fhits, True)
            else:
                new_scene["elements"][index]["text"] = new_text
    diags = sort_diags(diags)
    rewrites.sort(key=lambda r: (r["span"]["start_line"], r["span"]["start_col"], r["code"], r["from"]))
    blocked = any(d["severity"] == "error" for d in diags)
    return {"diagnostics": diags, "rewrites": rewrites, "scene": new_scene, "blocked": blocked}


SPEC = StageSpec(name="sanitize", version=VERSION, rule_files=("sanitize.toml",), settings=(), inputs=("scene",),
                 run=run)
