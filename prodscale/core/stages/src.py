"""src: the per-scene half of the Scene Reality Check (PS4xx).

Checks here (data in src.toml, documented in rules/README.md):

- PS401/PS402/PS403: the heading says INT./EXT., names a location, gives a time of day
  (a heading with no time of day, e.g. ``INT. BOATHOUSE``, is a warning);
- PS404: the time of day is a known term (``[lexicon].times_of_day``);
- PS410: the scene has at least one action paragraph (something to show);
- PS411: no shot has more speakers than the profile allows (speakers sharing one shot are the two
  sides of dual dialogue; any on-camera speech counts for a profile that allows 0);
- PS412: no single speech runs longer than the profile's longest clip (at the dialogue pace of
  ``[timing]``, the same as shot_specs.toml);
- PS413-PS415: contradictions between the heading and the action (an interior under open sky, an
  exterior with a ceiling, daylight at night), by whole-word lexicon.

It also records the facts the cross-scene checks of the aggregation need (PS405-PS409):
int/ext, location, time of day, who speaks where, who is introduced in capitals, who is named,
and who moves. ``status`` is ``failed`` (an error), ``warnings`` or ``validated``; the
aggregation recomputes it after the cross-scene checks and acknowledgements.
"""

from __future__ import annotations

from typing import Any

from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import (caps_runs, clean, diag, find_terms, fold_term, folded_set, rules_by_code,
                                         sort_diags, word_count)

VERSION = 1
_CAPS_IGNORE = ("I", "A", "OK", "V.O.", "O.S.", "O.C.", "CONT'D", "POV", "INT", "EXT", "THE", "AND", "AM", "PM")


def _ext_parts(ext: str | None) -> list[str]:
    if not ext:
        return []
    return [p.strip().upper() for p in ext.replace(";", ",").split(",") if p.strip()]


def _is_voice(ext: str | None, lex: dict[str, Any]) -> bool:
    voice = {v.upper() for v in lex["voice_extensions"]}
    return any(p in voice for p in _ext_parts(ext))


def _named_phrases(text: str) -> list[str]:
    """Capitalized words and runs of them in an action line (case-folded): who may be named."""
    out: list[str] = []
    cur: list[str] = []
    for word in clean(text).split():
        w = word.strip(".,;:!?()\"'’“”")
        if w[:1].isupper():
            cur.append(w)
            if word[-1:] in ".,;:!?)":
                out.append(" ".join(cur))
                cur = []
        else:
            if cur:
                out.append(" ".join(cur))
            cur = []
    if cur:
        out.append(" ".join(cur))
    return [fold_term(p) for p in out if p]


def scene_facts(scene: dict[str, Any], lex: dict[str, Any]) -> dict[str, Any]:
    speakers: dict[str, dict[str, Any]] = {}
    intros: list[dict[str, Any]] = []
    named: set[str] = set()
    movers: set[str] = set()
    actions = 0
    dialogue_lines = 0
    last_action_moves = False
    first_action_moves: bool | None = None
    elements = scene.get("elements", [])
    for el in elements:
        k = el["kind"]
        line = el["span"]["start_line"]
        if k == "character":
            name = el.get("name") or el["text"].strip().upper()
            voice = _is_voice(el.get("extension"), lex)
            cur = speakers.get(name)
            if cur is None:
                speakers[name] = {"name": name, "line": line, "voice": voice, "onscreen": not voice}
            elif not voice:
                cur["onscreen"] = True
        elif k == "dialogue":
            dialogue_lines += 1
        elif k == "action":
            actions += 1
            text = el["text"]
            for run in caps_runs(clean(text), _CAPS_IGNORE):
                intros.append({"text": fold_term(run.text), "line": line})
            phrases = _named_phrases(text)
            named.update(phrases)
            moves = bool(find_terms(clean(text), lex["movement_verbs"]))
            last_action_moves = moves
            if first_action_moves is None:
                first_action_moves = moves
            if moves:
                for p in phrases:
                    movers.update(p.split())
    return {
        "heading": scene.get("heading", ""),
        "prologue": bool(scene.get("prologue")),
        "int_ext": scene.get("int_ext"),
        "location": scene.get("location"),
        "time_of_day": scene.get("time_of_day"),
        "speakers": sorted(speakers.values(), key=lambda s: (s["line"], s["name"])),
        "introduced": sorted(intros, key=lambda i: (i["line"], i["text"])),
        "named": sorted(named),
        "movers": sorted(movers),
        "last_action_moves": last_action_moves,
        "first_action_moves": bool(first_action_moves),
        "actions": actions,
        "dialogue_lines": dialogue_lines,
    }


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    scene = inputs["scene"]
    data = rules["src.toml"]
    lex = data["lexicon"]
    codes = rules_by_code(data)
    diags: list[dict[str, Any]] = []
    hspan = scene.get("heading_span")
    heading = scene.get("heading", "")
    is_prologue = bool(scene.get("prologue"))
    facts = scene_facts(scene, lex)

    if is_prologue:
        # text before the first heading: nothing says where or when it is
        diags.append(diag(codes["PS402"], hspan, {"match": ""}, heading="(no heading)"))
    else:
        if not scene.get("int_ext"):
            diags.append(diag(codes["PS401"], hspan, {"match": heading}, heading=heading))
        if not (scene.get("location") or "").strip():
            diags.append(diag(codes["PS402"], hspan, {"match": heading}, heading=heading))
        tod = (scene.get("time_of_day") or "").strip()
        if not tod:
            diags.append(diag(codes["PS403"], hspan, {"match": heading}, heading=heading))
        elif fold_term(tod) not in folded_set(lex["times_of_day"]):
            diags.append(diag(codes["PS404"], hspan, {"match": tod}, match=tod, heading=heading))

    if facts["actions"] == 0 and "PS410" in codes:
        diags.append(diag(codes["PS410"], hspan, {}, heading=heading))

    # contradictions between the heading and the action
    int_ext = (scene.get("int_ext") or "").upper()
    tod_u = (scene.get("time_of_day") or "").upper()
    for rule in sorted(data.get("rule", []), key=lambda r: r["code"]):
        if rule["kind"] != "contradiction":
            continue
        if "when_int_ext" in rule and int_ext not in {x.upper() for x in rule["when_int_ext"]}:
            continue
        if "when_time" in rule and tod_u not in {x.upper() for x in rule["when_time"]}:
            continue
        for el in scene.get("elements", []):
            if el["kind"] not in rule.get("scope", ["action"]):
                continue
            if find_terms(clean(el["text"]), rule.get("unless", [])):
                continue
            for hit in find_terms(clean(el["text"]), rule["terms"], rule.get("exceptions", [])):
                diags.append(diag(rule, el["span"], {"match": hit.text}, match=hit.text))

    # profile limits
    profile_name = settings.get("project.profile") or "generic"
    profile = ((rules.get("prompts.toml") or {}).get("profiles") or {}).get(profile_name)
    if profile is not None:
        limit = int(profile.get("max_speaking_characters", 2))
        longest = max(int(d) for d in profile["clip_durations_ms"])
        timing = data["timing"]
        elements = scene.get("elements", [])
        i = 0
        while i < len(elements):
            el = elements[i]
            if el["kind"] != "character":
                i += 1
                continue
            name = el.get("name") or el["text"].strip().upper()
            voice = _is_voice(el.get("extension"), lex)
            j = i + 1
            texts = []
            while j < len(elements) and elements[j]["kind"] in ("dialogue", "parenthetical"):
                if elements[j]["kind"] == "dialogue":
                    texts.append(elements[j]["text"])
                j += 1
            words = sum(word_count(clean(t)) for t in texts)
            ms = words * int(timing["dialogue_ms_per_word"]) + len(texts) * int(timing["dialogue_ms_per_line"])
            end = elements[j - 1]["span"] if j - 1 > i else el["span"]
            span = {"start_line": el["span"]["start_line"], "start_col": el["span"]["start_col"],
                    "end_line": end["end_line"], "end_col": end["end_col"]}
            max_clips = int(codes.get("PS412", {}).get("max_clips", 1))
            if ms > longest * max_clips and "PS412" in codes:
                diags.append(diag(codes["PS412"], span, {"match": name}, character=name, duration_ms=ms,
                                  profile=profile_name, limit=longest, max_clips=max_clips))
            # who shares this shot: the dual-dialogue partner
            group = [] if voice else [name]
            if el.get("dual") and j < len(elements) and elements[j]["kind"] == "character" and elements[j].get("dual"):
                partner = elements[j]
                if not _is_voice(partner.get("extension"), lex):
                    group.append(partner.get("name") or partner["text"].strip().upper())
            if len(group) > limit and "PS411" in codes:
                diags.append(diag(codes["PS411"], span, {"match": ", ".join(group)}, count=len(group),
                                  names=", ".join(group), profile=profile_name, limit=limit))
            if len(group) == 2:
                # skip the partner: the pair was judged together
                k = j + 1
                while k < len(elements) and elements[k]["kind"] in ("dialogue", "parenthetical"):
                    k += 1
                i = k
            else:
                i = j
    diags = sort_diags(diags)
    status = "failed" if any(d["severity"] == "error" for d in diags) else (
        "warnings" if any(d["severity"] == "warning" for d in diags) else "validated")
    return {"facts": facts, "diagnostics": diags, "status": status}


SPEC = StageSpec(name="src", version=VERSION, rule_files=("src.toml", "prompts.toml"), settings=("project.profile",),
                 inputs=("scene",), run=run)
