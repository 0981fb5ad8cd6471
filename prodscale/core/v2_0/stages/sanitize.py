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

import re

import orjson

from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import diag, sort_diags, sub_span
from prodscale.core.stages.sanitize import (DETERMINERS, _replacement, apply_rewrites, gate_rules, rules_for, scan,
                                           terms_may_match)
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


_SPOKEN = ("dialogue", "lyrics")


def profile_speaks(rules: dict[str, Any], settings: dict[str, Any]) -> bool:
    """The project's generator profile voices dialogue (audio, and speech written into the prompt); an
    unknown profile is taken to speak (the prompts stage reports it)."""
    profiles = (rules.get("prompts.toml") or {}).get("profiles", {})
    profile = profiles.get(settings.get("project.profile") or "generic")
    return profile is None or (bool(profile.get("audio", True)) and profile.get("dialogue", "quotes") != "none")


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    scene = inputs["scene"]
    data = rules["sanitize.toml"]
    diags: list[dict[str, Any]] = []
    rewrites: list[dict[str, Any]] = []
    new_scene = orjson.loads(orjson.dumps(scene))
    gates = gate_rules(data)
    mentions = {r["of"]: r for r in gates if r["kind"] == "mention"}
    by_code = {r["code"]: r for r in gates}
    gate_mention, brand_kept = by_code.get("PS120"), by_code.get("PS121")
    # a profile that sends no speech (Runway Gen-4, Kling) never hears a line: a term only said is a note there
    unheard = None
    speaks = profile_speaks(rules, settings)
    if gate_mention is not None and not speaks and "unsent_level" in gate_mention:
        unheard = {**gate_mention, "level": gate_mention["unsent_level"],
                   "message": gate_mention.get("unsent_message", gate_mention["message"])}
    for kind, text, span, index in _units(scene):
        pending: list[tuple[Any, str]] = []
        nouns: dict[str, str] = {}   # brand as written (folded) -> its generic noun, for the element's props
        may = terms_may_match(gates, text)
        for rule in rules_for(gates, may):   # 1.x's gates, and the names rules (kind "names") routed below
            if kind not in rule.get("scope", []):
                continue
            if rule["kind"] == "mention":
                continue   # reported through the names rule it belongs to
            found = (find_people(text, rule, rules[rule["list"]], scene.get("own_names", ()))
                     if rule["kind"] == "names" else scan(rule, text, may))
            for hit, values in found:
                referable = rule.get("spoken") or rule.get("mention_after") or rule.get("mention_before")
                if rule["kind"] == "existence" and referable \
                        and _mentioned(rule, kind, text, hit):
                    mention = unheard if unheard is not None and kind in _SPOKEN else gate_mention
                    if mention is not None:
                        hspan = sub_span(span, text, hit.start, hit.end)
                        diags.append(diag(mention, hspan, {"match": hit.text, "element": kind, "gate": rule["code"]},
                                          match=hit.text, gate=rule["code"]))
                    continue
                if rule["kind"] == "names" and not _shown(kind, text, hit.end):
                    mention = mentions.get(rule["code"])
                    if mention is not None:
                        hspan = sub_span(span, text, hit.start, hit.end)
                        diags.append(diag(mention, hspan, {"match": hit.text, "element": kind},
                                          match=hit.text, **values))
                    continue
                hspan = sub_span(span, text, hit.start, hit.end)
                values = {"match": hit.text, **values}
                extra = {"match": values["match"], "element": kind}
                if rule["kind"] == "substitution" and brand_kept is not None and kind in _SPOKEN \
                        and "said_level" in brand_kept:
                    # said, not shown: no logo to render, and a line keeps its writer's words (a note)
                    said = brand_kept.get("said_reason", "it is only said, not shown")
                    diags.append(diag({**brand_kept, "level": brand_kept["said_level"]}, hspan,
                                      {**extra, "reason": said}, match=hit.text, reason=said))
                    continue
                if rule["kind"] == "substitution" and (reason := _keep_brand(rule, scene.get("year"), text, hit)):
                    if brand_kept is not None:
                        diags.append(diag(brand_kept, hspan, {**extra, "reason": reason}, match=hit.text, reason=reason))
                    continue
                if rule["kind"] == "substitution":
                    nouns[hit.text.casefold()] = _ARTICLE_RE.sub("", str(values["replacement"]))
                    hit = _with_model(rule, text, hit)
                    raw = _without_article(text, hit, _modifier(rule, text, hit) or str(values["replacement"]))
                    hit, raw = _with_article(text, hit, raw)
                    hit = _as_written(rule, text, hit, kind)
                    rep = _replacement(text, hit, raw, kind == "heading")
                    values["replacement"] = rep
                    pending.append((hit, raw))
                    rewrites.append({"from": hit.text, "to": rep, "span": hspan, "code": rule["code"]})
                    extra["replacement"] = rep
                if kind in _SPOKEN and not speaks and "unsent_level" in rule:
                    rule = {**rule, "level": rule["unsent_level"]}   # only said, and this profile sends no speech
                diags.append(diag(rule, hspan, extra, **values))
        if pending:
            new_text = apply_rewrites(text, pending, index is None)
            if index is None:
                _rewrite_heading(scene, new_scene, data, new_text)
            else:
                el = new_scene["elements"][index]
                el["text"] = new_text
                if el.get("props"):   # an insert of a rewritten brand shows the generic thing too
                    el["props"] = [nouns.get(p.casefold(), p) for p in el["props"]]
    rewrites.sort(key=lambda r: (r["span"]["start_line"], r["span"]["start_col"], r["code"], r["from"]))
    diags = sort_diags(diags)
    used = apply_waivers(scene, diags)
    return {"diagnostics": diags, "rewrites": rewrites, "scene": new_scene, "waivers_used": used,
            "inline_waivers": inline_waivers(scene),
            "blocked": any(d["severity"] == "error" and "waived" not in d for d in diags)}


# a parenthetical after a name introduces them ("(56)", "(in a top hat)", "(V.O.)"); an aside does not
# ("... by Nate Dogg and Eminem (which Andrew protests ...)")
_ACTING = re.compile(r"^(?:\s*\((?!\s*(?i:which|who|whom|whose|that|as|or|and|i\.e|e\.g|see)\b)|\s*,\s*\d|"
                     r"\s+(?:(?!was\b|always\b|perhaps\b|across\b|thus\b|unless\b|whereas\b)"
                     r"[a-z]+s|is|are|stands|sits|walks|looks|turns|says|speaks|waves|"
                     r"smiles|enters|appears|arrives|watches|stares|nods|steps|runs|holds|takes|leans|laughs)\b)")


def _keep_brand(rule: dict[str, Any], year: int | None, text: str, hit: Any) -> str | None:
    """Why a brand must not be swapped for its generic noun, or None: a story set before the product existed
    (an iPhone in 1962 is an error of the script, not a logo to hide), or the brand used as a verb ("Google it")."""
    since = rule.get("introduced", {}).get(hit.text.casefold())
    if year is not None and since is not None and year < since:
        return f"the story is set in {year}, before it existed ({since})"
    after = text[hit.end:hit.end + 20].split()
    if after and after[0].strip(".,;:!?") in rule.get("verb_objects", ()):
        return "it is used as a verb"
    if _company_use(rule, text, hit):
        return "it names the company, not a product"
    return None


_ARTICLE_RE = re.compile(r"^(?:a|an|the)\s+", re.I)
_NOT_ADJECTIVES = frozenset({"with", "and", "or", "but", "of", "to", "in", "on", "at", "for", "from", "by", "into",
                             "onto", "like", "than", "as", "over", "under", "is", "are", "was", "were", "has", "have"})


def _without_article(text: str, hit: Any, replacement: str) -> str:
    """The replacement without its own article where the sentence already gives one: after a possessive
    ("Krantz's iPhone": "Krantz's smartphone") or a determiner and one adjective ("a bloody iPhone": "a
    bloody smartphone", "a new Tesla": "a new electric car"); 1.x's fitting handles a determiner right before."""
    words = text[:hit.start].split()
    if not words or not _ARTICLE_RE.match(replacement):
        return replacement
    last = words[-1]
    if last.endswith(("'s", "’s", "s'", "s’")) and last[:1].isalpha():
        return _ARTICLE_RE.sub("", replacement)
    for n in (1, 2):   # one or two adjectives between ("a new Tesla", "a souped up Harley-Davidson")
        between = words[-n:]
        if len(words) > n and all(w.isalpha() and w.islower() and w.casefold() not in _NOT_ADJECTIVES
                                  for w in between) and words[-n - 1].casefold() in DETERMINERS:
            return _ARTICLE_RE.sub("", replacement)
    return replacement


def _with_article(text: str, hit: Any, replacement: str) -> tuple[Any, str]:
    """A brand right after "a"/"an" takes the article with it, so the replacement's own article agrees
    ("A Boeing 757" is "An airliner", not "A airliner")."""
    m = re.search(r"(?:^|(?<=\s))(an?)[ \t]+$", text[:hit.start], re.I)
    if m is None or not _ARTICLE_RE.match(replacement) or replacement.split()[0].casefold() not in ("a", "an"):
        return hit, replacement
    start = m.start(1)
    if m.group(1)[0].isupper():
        replacement = replacement[:1].upper() + replacement[1:]
    return type(hit)(start, hit.end, text[start:hit.end]), replacement


_MODEL = re.compile(r"[ \t]+([A-Z0-9][^\s.,;:!?]*)")


def _with_model(rule: dict[str, Any], text: str, hit: Any) -> Any:
    """The brand with the model name written after it (``model_brands``: "Lamborghini Murciélago", "Boeing 757"),
    so the rewrite replaces both."""
    if hit.text.casefold() not in rule.get("model_brands", ()):
        return hit
    m = _MODEL.match(text, hit.end)
    if m is None or text[hit.end:m.end()].count("\n"):
        return hit
    return type(hit)(hit.start, m.end(), text[hit.start:m.end()])


def _as_written(rule: dict[str, Any], text: str, hit: Any, kind: str) -> Any:
    """A brand spelt in capitals by its maker (LEGO) among words in lower case is no emphasis: its
    replacement is not put in capitals ("a LEGO set" is "a toy-brick set"); in a heading or a run of
    capitals it still is."""
    if kind == "heading" or not hit.text.isupper() or hit.text.casefold() not in rule.get("own_caps", ()):
        return hit
    near = text[max(0, hit.start - 20):hit.start].split()[-1:] + text[hit.end:hit.end + 20].split()[:1]
    if any(w.strip(".,;:!?()\"'").isupper() and len(w.strip(".,;:!?()\"'")) > 1 for w in near):
        return hit
    return type(hit)(hit.start, hit.end, hit.text.lower())


def _company_use(rule: dict[str, Any], text: str, hit: Any) -> bool:
    """A brand that is also a company, named as the company ("works at Google", "the entrances to Facebook,
    Google", "Tesla's headquarters"): its product noun would be wrong there (``[rule.company]``)."""
    company = rule.get("company", {})
    names = {n.casefold() for n in company.get("names", [])}
    if hit.text.casefold() not in names:
        return False
    after = text[hit.end:hit.end + 30].casefold().replace("'s ", " ").replace("’s ", " ").split()
    if after and after[0].strip(".,;:!?") in company.get("after", ()):
        return True
    words = text[:hit.start].split()
    while words:   # a list of companies: "to Facebook, Google and Tesla"
        if words[-1].endswith(",") and words[-1].rstrip(",").casefold() in names:
            words.pop()
        elif len(words) > 1 and words[-1].casefold() in ("and", "or") and words[-2].rstrip(",").casefold() in names:
            del words[-2:]
        else:
            break
    return bool(words) and words[-1].casefold().strip(".,;:!?") in company.get("before", ())


def _modifier(rule: dict[str, Any], text: str, hit: Any) -> str | None:
    """The generic word for a brand used before a noun, where its noun would read wrong ("a LEGO set" is "a
    toy-brick set", not "a toy bricks set"; "Nike shoes" are "athletic shoes"), or None."""
    form = rule.get("modifier", {}).get(hit.text.casefold())
    after = text[hit.end:hit.end + 20].split()
    if form and after and after[0].strip(".,;:!?").casefold() in rule.get("modifier_nouns", ()):
        return str(form)
    return None


_SPOKEN = ("dialogue", "lyrics")


def _quoted(text: str, pos: int) -> bool:
    """``pos`` stands inside quotation marks of the action (typographic, or an odd number of straight ones)."""
    before = text[:pos]
    return before.count("“") > before.count("”") or before.count('"') % 2 == 1


def _mentioned(rule: dict[str, Any], kind: str, text: str, hit: Any) -> bool:
    """A gate term that is said (dialogue, lyrics) or only referred to around it (a voice, a mask, a
    comparison): no picture of it for a generator to refuse."""
    if rule.get("spoken") == "mention" and kind in _SPOKEN:
        return True
    before = text[max(0, hit.start - 40):hit.start].casefold().split()
    after = text[hit.end:hit.end + 30].casefold().split()
    if _quoted(text, hit.start) and kind not in _SPOKEN:
        return True   # words written on something ("the only words not blacked out: “Harry Potter.”")
    gap = int(rule.get("mention_gap", 0))
    for phrase in rule.get("mention_before", []):
        words = phrase.casefold().split()
        for skip in range(gap + 1):
            end = len(before) - skip
            if end >= len(words) and before[end - len(words):end] == words:
                return True
    for phrase in rule.get("mention_after", []):
        words = phrase.casefold().split()
        if [w.strip(".,;:!?") for w in after[:len(words)]] == words:
            return True
    return False


def _shown(kind: str, text: str, end: int) -> bool:
    """A real person shown, not mentioned: a cue, a heading, a slug or a card naming them, or action in
    which they do something now ("Abraham Lincoln watches", "LINCOLN (56)"); "Einstein was a professor
    here" and "the dancing of Gene Kelly" are references."""
    if kind in ("character", "heading", "slug", "card", "centered"):
        return True
    return bool(_ACTING.match(text[end:end + 40]))


_WAIVE = re.compile(r"^\s*prodscale\s*:\s*waive\s+(PS\d{3})\b[\s,:;-]*(.*)$", re.I | re.S)


def inline_waivers(scene: dict[str, Any]) -> list[dict[str, Any]]:
    """``[[prodscale: waive PS107 reason]]`` notes: each covers its own line when it shares it with
    text, else the next element; a waiver without a reason is no waiver."""
    out: list[dict[str, Any]] = []
    elements = scene.get("elements", [])
    for i, el in enumerate(elements):
        if el["kind"] != "note":
            continue
        m = _WAIVE.match(el["text"])
        if not m or not m.group(2).strip():
            continue
        line = el["span"]["start_line"]
        host = next((e for e in elements if e["kind"] != "note"
                     and e["span"]["start_line"] <= line <= e["span"]["end_line"]), None)
        if host is None:
            host = next((e for e in elements[i + 1:] if e["kind"] != "note"), None)
        first, last = (host["span"]["start_line"], host["span"]["end_line"]) if host else (line, line)
        if scene.get("heading") and host is None and line <= scene["heading_span"]["end_line"]:
            first, last = scene["heading_span"]["start_line"], scene["heading_span"]["end_line"]
        out.append({"code": m.group(1).upper(), "reason": " ".join(m.group(2).split()), "lines": [first, last],
                    "origin": f"note at line {line}", "span": el["span"]})
    return out


def apply_waivers(scene: dict[str, Any], diags: list[dict[str, Any]]) -> list[str]:
    """Mark each error a waiver covers (``waived``: the reason; the finding stays reported); the origins
    of the waivers used. A producer's waiver covers one finding: its code, and its match when given."""
    used: list[str] = []
    waivers = [*inline_waivers(scene), *(scene.get("waivers") or [])]
    for d in diags:
        if d["severity"] != "error":
            continue
        match = str((d.get("extra") or {}).get("match", "")).casefold()
        for w in waivers:
            if w["code"] != d["code"] or (w.get("match") and w["match"].casefold() != match):
                continue
            if "lines" in w and not (d.get("span") and w["lines"][0] <= d["span"]["start_line"] <= w["lines"][1]):
                continue
            d["waived"] = w["reason"]
            d["extra"] = {**(d.get("extra") or {}), "waiver": w["origin"]}
            if w["origin"] not in used:
                used.append(w["origin"])
            break
    return used


SPEC = StageSpec(name="sanitize", version=VERSION, rule_files=("sanitize.toml", "lists/real_people.tsv", "prompts.toml"),
                 settings=("project.profile",),
                 inputs=("scene",), run=run)
