"""prompts: one generation prompt per clip (PS2xx), from the shots of one sanitized scene.

- Profile: ``project.profile`` names a ``[profiles.<name>]`` table of prompts.toml (unknown:
  PS207, nothing materialized).
- Clip splitting: a shot longer than the profile's longest clip is cut into
  ``n = ceil(duration / longest)`` parts of equal length (integer milliseconds, the remainder
  spread one millisecond at a time over the first parts); each part gets the shortest allowed
  clip duration that holds it; each speech goes to the part in which it starts (PS203 warning).
- Template: the parts of ``[template].parts`` formatted with the shot, the place, the cast
  (character bible ``characters``, looked up case-insensitively with the cue's normalized name),
  the description, the speeches (only for profiles with audio), the sound, "Part k of n" and the
  style look; a part whose placeholders are all empty is dropped. Emphasis is stripped and
  notes never reach a prompt.
- Gates: the sanitize rules run again on every materialized prompt; findings in the text that
  came from the scene were already reported by sanitize, so only text from the project's style
  and character bible is reported (PS204 error blocks the clip, PS205 warning); brand rewrites
  apply there too and are recorded on the clip.
- Length: a prompt over ``max_prompt_chars`` has its description trimmed at a word boundary
  (ending with "...", never below ``min_description_chars``), a PS202 note; if it is still too
  long it is not materialized (PS201 error).
- Blocking: a sanitize error on the heading blocks every clip of the scene (the place is in
  every prompt); one on an element blocks the clips of the shots whose source covers its line.
- Seed: ``int(digest_obj(clip without seed and hash)[:16], 16) % seed_modulus``; ``prompt_hash``
  is the digest of what is sent (prompt, negative prompt, duration, aspect, seed, profile).
"""

from __future__ import annotations

import re
from typing import Any

from prodscale.core.canon import digest_obj
from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import clean, diag, per_rule_data, rules_by_code, sort_diags, spans_overlap
from prodscale.core.stages.sanitize import apply_rewrites, gate_rules, rules_for, scan, terms_may_match

VERSION = 1
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def split_duration(total_ms: int, allowed_ms: list[int]) -> list[tuple[int, int]]:
    """[(content ms, clip duration ms)] for a shot of ``total_ms`` under the allowed durations."""
    allowed = sorted(int(a) for a in allowed_ms)
    longest = allowed[-1]
    n = max(1, -(-total_ms // longest))
    base, rem = divmod(total_ms, n)
    parts = [base + (1 if i < rem else 0) for i in range(n)]
    return [(p, next(a for a in allowed if a >= p)) for p in parts]


def _char_lookup(characters: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in sorted(characters or {}):
        entry = (characters or {})[key]
        desc = entry.get("description", "") if isinstance(entry, dict) else str(entry)
        try:
            from prodscale.core.fountain import normalize_character
            name = normalize_character(key)[0]
        except Exception:
            name = key
        out.setdefault(" ".join(str(name).casefold().split()), str(desc))
    return out


@per_rule_data
def _parsed(parts: list[str]) -> list[tuple[list[str], list[tuple[str, str]], str]]:
    """Each template part as (placeholder names, [(literal before, name)], literal after), parsed
    once: a prompt is rendered per clip."""
    out = []
    for part in parts:
        pieces, pos = [], 0
        for m in _PLACEHOLDER.finditer(part):
            pieces.append((part[pos:m.start()], m.group(1)))
            pos = m.end()
        out.append(([name for _, name in pieces], pieces, part[pos:]))
    return out


def _render(parts: list[str], values: dict[str, str]) -> tuple[str, list[tuple[str, int, int]]]:
    """The prompt and, for each placeholder, where its value landed [(name, start, end)]."""
    out = ""
    where: list[tuple[str, int, int]] = []
    for names, pieces, tail in _parsed(parts):
        if names and all(not values.get(n) for n in names):
            continue
        text = ""
        local: list[tuple[str, int, int]] = []
        for literal, name in pieces:
            text += literal
            v = values.get(name, "")
            local.append((name, len(text), len(text) + len(v)))
            text += v
        text += tail
        text = text.strip()
        if not text:
            continue
        offset = len(out) + (1 if out else 0)
        out = f"{out} {text}" if out else text
        where.extend((n, s + offset, e + offset) for n, s, e in local)
    return out, where


def _trim(text: str, limit: int, marker: str) -> str:
    if limit <= len(marker):
        return marker[:max(0, limit)]
    cut = text[:limit - len(marker)]
    if " " in cut:
        cut = cut[:cut.rfind(" ")]
    return cut.rstrip(" ,;:.") + marker


SCENE_PARTS = {"place", "description", "dialogue", "audio", "size_name", "angle", "movement", "lens_mm", "part"}


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    san = inputs["sanitize"]
    scene = san["scene"]
    shots = inputs["shot_specs"]["shots"]
    data = rules["prompts.toml"]
    gates = gate_rules(rules.get("sanitize.toml") or {})
    codes = rules_by_code(data)
    diags: list[dict[str, Any]] = []
    profiles = data.get("profiles", {})
    profile_name = settings.get("project.profile") or "generic"
    if profile_name not in profiles:
        diags.append(diag(codes["PS207"], scene.get("heading_span"), {"match": profile_name}, profile=profile_name,
                          allowed=", ".join(sorted(profiles))))
        return {"clips": [], "diagnostics": sort_diags(diags), "profile": profile_name}
    profile = profiles[profile_name]
    tpl = data["template"]
    style = settings.get("style") or {}
    bible = _char_lookup(settings.get("characters"))
    aspect = style.get("aspect") or profile["aspects"][0]
    if aspect not in profile["aspects"]:
        fallback = profile["aspects"][0]
        diags.append(diag(codes["PS206"], scene.get("heading_span"), {"match": aspect}, aspect=aspect,
                          profile=profile_name, fallback=fallback, allowed=", ".join(profile["aspects"])))
        aspect = fallback
    # every term once, first occurrence wins, compared case-insensitively
    terms = [t.strip() for part in (tpl.get("base_negative", ""), profile.get("negative", ""),
                                    style.get("negative") or "") for t in (part or "").split(",") if t.strip()]
    negative = ", ".join({t.casefold(): t for t in reversed(terms)}[k] for k in dict.fromkeys(t.casefold()
                                                                                               for t in terms))
    limit = int(profile["max_prompt_chars"])
    longest = max(int(d) for d in profile["clip_durations_ms"])

    errors = [d for d in san.get("diagnostics", []) if d["severity"] == "error"]
    heading_errors = sorted({d["code"] for d in errors if d.get("span") and spans_overlap(d["span"], scene["heading_span"])})
    missing_bible: dict[str, dict[str, int]] = {}
    gate_reports: dict[tuple[str, str], dict[str, Any]] = {}
    clips: list[dict[str, Any]] = []
    int_ext_words = tpl.get("int_ext_words", {})
    for shot in shots:
        parts = split_duration(int(shot["duration_ms"]), profile["clip_durations_ms"])
        n = len(parts)
        blocked_by = set(heading_errors)
        blocked_by.update(d["code"] for d in errors if spans_overlap(d.get("span"), shot["span"]))
        if n > 1 and "PS203" in codes:
            diags.append(diag(codes["PS203"], shot["span"], {"shot_index": shot["index"]},
                              shot=shot["id"] or f"#{shot['index']}", duration_ms=shot["duration_ms"],
                              profile=profile_name, limit=longest, clips=n))
        cast_bits = []
        for name in shot["subjects"]:
            desc = bible.get(" ".join(name.casefold().split()))
            if desc:
                cast_bits.append(f"{name}: {clean(desc)}.")
            else:
                cast_bits.append(f"{name}.")
                missing_bible.setdefault(name, shot["span"])
        place = " ".join(x for x in (int_ext_words.get(shot.get("int_ext") or "", ""),
                                     clean(shot.get("location") or "")) if x)
        if shot.get("time_of_day"):
            place = f"{place}, {clean(shot['time_of_day']).lower()}" if place else clean(shot["time_of_day"]).lower()
        # the words of the speeches are shared out over the parts in order (word g of W goes to
        # part g * n // W), so each clip carries what is said during it
        lines = shot.get("dialogue", [])
        total_words = sum(len(ln["text"].split()) for ln in lines)
        per_part: list[list[tuple[str, list[str]]]] = [[] for _ in range(n)]
        g = 0
        for ln in lines:
            for w in ln["text"].split():
                p = g * n // max(1, total_words)
                bucket = per_part[p]
                if not bucket or bucket[-1][0] != ln["character"] or bucket[-1][1] is None:
                    bucket.append((ln["character"], []))
                bucket[-1][1].append(w)
                g += 1
            for bucket in per_part:  # a new line starts a new quote
                if bucket and bucket[-1][1] is not None:
                    bucket.append((ln["character"], None))  # type: ignore[arg-type]
        for k, (content_ms, clip_ms) in enumerate(parts, start=1):
            mine = [(c, ws) for c, ws in per_part[k - 1] if ws]
            dialogue = ""
            if profile.get("audio", True) and mine:
                dialogue = " ".join(f'{c} says: "{" ".join(ws)}"' for c, ws in mine)
            audio = ""
            if profile.get("audio", True) and str(shot.get("audio", "")).startswith("SFX:"):
                audio = f"Sound: {shot['audio'][4:].strip().lower()}."
            values = {
                "size_name": tpl.get("size_names", {}).get(shot["size"], shot["size"]),
                "angle": shot["angle"], "movement": shot["movement"], "lens_mm": str(shot["lens_mm"]),
                "place": place, "cast": " ".join(cast_bits), "description": clean(shot["description"]),
                "dialogue": dialogue, "audio": audio, "part": f"Part {k} of {n}." if n > 1 else "",
                "look": clean(style.get("look") or ""),
            }
            clip: dict[str, Any] = {
                "shot": shot["index"], "shot_id": shot["id"], "part": k, "parts": n, "content_ms": content_ms,
                "duration_ms": clip_ms, "aspect": aspect, "profile": profile_name, "negative_prompt": negative,
                "span": shot["span"], "rewrites": [],
            }
            prompt = None
            clip_blocked = sorted(blocked_by)
            if not clip_blocked:
                prompt, where = _render(tpl["parts"], values)
                # gates again, on the text that did not come from the scene
                scene_ranges = [(s, e) for name, s, e in where if name in SCENE_PARTS]
                subs: list[tuple[Any, str]] = []
                may = terms_may_match(gates, prompt)
                for rule in rules_for(gates, may):
                    for hit, vals in scan(rule, prompt, may):
                        if any(s <= hit.start and hit.end <= e for s, e in scene_ranges):
                            continue
                        if rule["kind"] == "substitution":
                            subs.append((hit, str(vals["replacement"])))
                            clip["rewrites"].append({"from": hit.text, "to": str(vals["replacement"]),
                                                     "code": rule["code"]})
                            continue
                        if rule["level"] == "note":
                            continue
                        code = "PS204" if rule["level"] == "error" else "PS205"
                        key = (code, rule["code"] + ":" + hit.text.casefold())
                        rep = gate_reports.setdefault(key, {"rule": codes[code], "gate": rule, "match": hit.text,
                                                            "span": shot["span"], "clips": []})
                        rep["clips"].append(f"{shot['id'] or '#' + str(shot['index'])}/{k}")
                        if rule["level"] == "error":
                            clip_blocked = sorted(set(clip_blocked) | {code})
                if subs:
                    # rewrite the non-scene values (cast and look) in place, then render again
                    for name in ("cast", "look"):
                        values[name] = apply_rewrites(values[name], [
                            (h, r) for rule in gates if rule["kind"] == "substitution"
                            for h, v in scan(rule, values[name]) for r in [str(v["replacement"])]])
                    prompt, where = _render(tpl["parts"], values)
                if len(prompt) > limit:
                    over = len(prompt) - limit
                    desc = values[tpl.get("trim", "description")]
                    room = len(desc) - over
                    original = len(prompt)
                    if room >= int(tpl.get("min_description_chars", 0)):
                        values[tpl.get("trim", "description")] = _trim(desc, room, tpl.get("trim_marker", "..."))
                        prompt, where = _render(tpl["parts"], values)
                    if len(prompt) <= limit:
                        diags.append(diag(codes["PS202"], shot["span"], {"shot_index": shot["index"]},
                                          clip=f"{shot['id'] or '#' + str(shot['index'])}/{k}", length=original,
                                          limit=limit, profile=profile_name))
                    else:
                        diags.append(diag(codes["PS201"], shot["span"], {"shot_index": shot["index"]},
                                          clip=f"{shot['id'] or '#' + str(shot['index'])}/{k}", length=len(prompt),
                                          limit=limit, profile=profile_name))
                        clip_blocked = sorted(set(clip_blocked) | {"PS201"})
            if clip_blocked:
                prompt = None
            clip["status"] = "blocked" if clip_blocked else "ready"
            clip["blocked_by"] = clip_blocked
            clip["prompt"] = prompt
            seed_basis = {k2: v for k2, v in clip.items() if k2 not in ("span",)}
            # strings and integers only (built just above): the float walk is left to the output files
            clip["seed"] = int(digest_obj(seed_basis, check=False)[:16], 16) % int(tpl.get("seed_modulus", 2 ** 32))
            clip["prompt_hash"] = None if prompt is None else digest_obj(
                {"prompt": prompt, "negative_prompt": negative, "duration_ms": clip_ms, "aspect": aspect,
                 "seed": clip["seed"], "profile": profile_name}, check=False)
            clips.append(clip)
    for (_code, _), rep in sorted(gate_reports.items()):
        gate = rep["gate"]
        diags.append(diag(rep["rule"], rep["span"], {"match": rep["match"], "gate": gate["code"],
                                                      "clips": rep["clips"]},
                          clip=", ".join(rep["clips"]), gate=gate["code"], gate_name=gate["name"], match=rep["match"]))
    if "PS208" in codes:
        for name in sorted(missing_bible):
            diags.append(diag(codes["PS208"], missing_bible[name], {"match": name}, character=name))
    return {"clips": clips, "diagnostics": sort_diags(diags), "profile": profile_name}


SPEC = StageSpec(name="prompts", version=VERSION, rule_files=("prompts.toml", "sanitize.toml"),
                 settings=("project.profile", "style", "characters"), inputs=("sanitize", "shot_specs"), run=run)
