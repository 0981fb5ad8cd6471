"""Validation of parsed rule files (``rules/<engine>/*.toml``); pure, no file access.

The engine reads and parses the files; :func:`validate_rule_file` checks one parsed file against
the format documented in ``rules/README.md`` and raises :class:`prodscale.errors.InputError`
naming the file, the rule (by code) and the key when anything is unknown, missing or ill-typed.
Unknown keys are rejected everywhere: a typo in a rule file must never silently disable a rule.
"""

from __future__ import annotations

import re
from typing import Any

from prodscale.errors import InputError

LEVELS = ("error", "warning", "note")
CODE_RE = re.compile(r"^PS\d{3}$")
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
ELEMENT_SCOPES = {"heading", "action", "dialogue", "parenthetical", "transition", "lyrics", "centered", "character",
                  "prompt", "settings", "note",
                  "slug", "card",   # engine 2.0.0's secondary slugs and title cards
                  "story"}          # engine 2.0.0: a finding about the whole script (PS209)

# keys every rule entry has
COMMON_REQUIRED = {"code", "name", "kind", "level", "since", "scope", "message", "help"}
COMMON_OPTIONAL = {"until"}

# kind -> (required kind keys, optional kind keys), per rule file
KINDS: dict[str, dict[str, tuple[set[str], set[str]]]] = {
    "sanitize.toml": {
        "existence": ({"terms"}, {"exceptions", "spoken", "mention_before", "mention_after", "mention_gap",
                                  "unsent_level"}),
        "substitution": ({"swap"}, {"exceptions", "introduced", "verb_objects", "modifier", "modifier_nouns", "company",
                                     "own_caps", "model_brands"}),
        "cooccurrence": ({"terms", "with"}, {"exceptions"}),
        "names": ({"list"}, {"exceptions", "not_before", "not_after"}),   # engine 2.0.0: a sourced list of names
        "mention": ({"of"}, {"unsent_level", "unsent_message", "said_level", "said_reason"}),   # engine 2.0.0: a reference, not a depiction
        "pattern": ({"pattern"}, {"exceptions", "min_digits"}),
        "control": (set(), {"extra_chars"}),
    },
    "shot_specs.toml": {
        "clamp": (set(), set()),
        "lookup": (set(), set()),
        "direction": (set(), set()),
    },
    "prompts.toml": {
        "limit": ({"limit"}, set()),
        "gate": (set(), set()),
        "lookup": (set(), set()),
        "language": (set(), set()),   # engine 2.0.0: PS209
    },
    "reading.toml": {
        "reading": (set(), set()),
    },
    "src.toml": {
        "acknowledgement": (set(), set()),
        "heading": ({"field"}, set()),
        "continuity": (set(), set()),
        "introduction": (set(), set()),
        "presence": (set(), set()),
        "profile-limit": ({"limit"}, {"max_clips"}),
        "contradiction": ({"terms"}, {"exceptions", "unless", "when_int_ext", "when_time"}),
    },
}

# file -> {top-level key: allowed sub-keys (None: free-form table checked below, "rule": rule list)}
TOP: dict[str, dict[str, Any]] = {
    "sanitize.toml": {"meta": {"stage", "engine", "scannable"}, "rule": "rule"},
    "shot_specs.toml": {"meta": {"stage", "engine"}, "rule": "rule",
                        "timing": {"action_ms_per_word", "action_ms_per_line", "dialogue_ms_per_word",
                                   "dialogue_ms_per_line", "establishing_ms", "insert_ms", "reaction_ms", "min_ms",
                                   "max_ms", "fps"},
                        "coverage": {"establishing_int_ext", "continuation_times", "offscreen_extensions",
                                     "reaction_skip_first_words", "caps_ignore", "sounds",
                                     "slug_setups", "reaction_words", "push_in_after_lines", "no_shot"},
                        "setups": None, "direction": None, "transitions": None,
                        "directives": {"shot_note", "lens_mm"}},
    "prompts.toml": {"meta": {"stage", "engine"}, "rule": "rule", "profiles": None,
                     "language": {"min_words", "min_english_share_pct", "english_words"},   # engine 2.0.0
                     "template": {"parts", "trim", "trim_marker", "min_description_chars", "base_negative",
                                  "image_to_video", "packed_description", "packed_description_riding",
                                  "seed_modulus", "size_names", "int_ext_words"}},
    "src.toml": {"meta": {"stage", "engine"}, "rule": "rule",
                 "lexicon": {"times_of_day", "continuous_times", "simultaneous_times", "later_times", "day_times",
                             "night_times", "voice_extensions", "movement_verbs"},
                 "timing": {"dialogue_ms_per_word", "dialogue_ms_per_line"}},
    "index.toml": {"meta": {"engine", "format", "retired", "features", "preview"}, "files": None, "range": None},
    # engine 2.0.0
    "reading.toml": {"meta": {"stage", "engine"}, "rule": "rule",
                     "heading": {"separators", "light_qualifiers", "continuations", "simultaneous", "time_jumps",
                                 "time_jump_pattern", "weekday_pattern", "modifiers", "year_pattern", "rooms", "lights",
                                 "clock_pattern", "clock_day_from", "clock_night_from", "shot_starts", "buildings",
                                 "action_lights"},
                     "slug": {"starts", "contains", "framing"}, "structure": {"labels", "label_pattern", "cards"},
                     "transition": {"terms", "openers", "flashback"}, "intercut": {"markers"},
                     "cue": {"joiners", "everyone", "both", "voice_over", "off_screen", "device", "voice_names",
                             "max_name_words", "not_name_first", "not_name_last"}},
    "breakdown.toml": {"meta": {"stage", "engine"}, "cast": {"honorifics", "not_aliases", "people", "qualifiers"},
                       "minors": {"adult_age", "words", "not_with"}, "categories": None,
                       "words": {"camera", "emphasis", "determiners", "body", "places", "adjectives", "not_elements"}},
    "stats.toml": {"meta": {"stage", "engine"}, "paper": None, "widths": None, "runtime": None},
    "explain.toml": {"meta": {"engine"}, "code": None},
}

SETUP_KEYS = {"size", "angle", "movement", "lens_mm", "rig"}
DIRECTION_KEYS = {"terms", "size", "angle", "movement", "lens_mm", "rig", "announce"}
PROFILE_KEYS = {"label", "max_prompt_chars", "clip_durations_ms", "aspects", "max_speaking_characters", "audio",
                "dialogue", "negative_prompt", "image_input", "pack_dialogue", "prompt_languages",   # engine 2.0.0
                "negative"}
RANGE_KEYS = {"prefix", "first", "last", "owner"}
EXPLAIN_KEYS = {"what", "why", "fail", "pass", "fix", "settings"}
SIZES = {"EWS", "WS", "MWS", "MS", "MCU", "CU", "ECU", "INSERT", "OTS", "POV", "2S"}


def _fail(name: str, message: str, hint: str | None = None) -> InputError:
    return InputError(f"rule file {name}: {message}", hint=hint or "see rules/README.md for the rule data format",
                      path=name)


def _unknown(name: str, where: str, keys: set[str], allowed: set[str]) -> None:
    extra = sorted(set(keys) - allowed)
    if extra:
        raise _fail(name, f"unknown key '{extra[0]}' in {where}",
                    f"known keys in {where}: {', '.join(sorted(allowed))}")


def _str_list(name: str, where: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(name, f"{where} must be a list of strings")


def _check_rule(name: str, i: int, rule: Any, seen: set[str]) -> None:
    if not isinstance(rule, dict):
        raise _fail(name, f"[[rule]] #{i} must be a table")
    where = f"[[rule]] {rule.get('code', f'#{i}')}"
    missing = sorted(COMMON_REQUIRED - set(rule))
    if missing:
        raise _fail(name, f"{where} is missing '{missing[0]}'")
    code = rule["code"]
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise _fail(name, f"{where}: code must look like PS123")
    if code in seen:
        raise _fail(name, f"{where}: code {code} is defined twice (codes are never reused)")
    seen.add(code)
    if rule["level"] not in LEVELS:
        raise _fail(name, f"{where}: level must be one of {', '.join(LEVELS)}")
    if not isinstance(rule["since"], str) or not VERSION_RE.match(rule["since"]):
        raise _fail(name, f"{where}: since must be an engine version like 1.0.0")
    for key in ("name", "message", "help"):
        if not isinstance(rule[key], str) or not rule[key]:
            raise _fail(name, f"{where}: {key} must be a non-empty string")
    _str_list(name, f"{where} scope", rule["scope"])
    bad = sorted(set(rule["scope"]) - ELEMENT_SCOPES)
    if bad:
        raise _fail(name, f"{where}: unknown scope '{bad[0]}'", f"scopes: {', '.join(sorted(ELEMENT_SCOPES))}")
    if "note" in rule["scope"] and not code.startswith("PS09"):
        raise _fail(name, f"{where}: notes are never scanned (only acknowledgements read them)")
    kinds = KINDS.get(name, {})
    if rule["kind"] not in kinds:
        raise _fail(name, f"{where}: unknown kind '{rule['kind']}'", f"kinds in {name}: {', '.join(sorted(kinds))}")
    req, opt = kinds[rule["kind"]]
    missing = sorted(req - set(rule))
    if missing:
        raise _fail(name, f"{where} (kind {rule['kind']}) is missing '{missing[0]}'")
    _unknown(name, where, set(rule), COMMON_REQUIRED | COMMON_OPTIONAL | req | opt)
    for key in ("terms", "with", "exceptions", "unless", "when_int_ext", "when_time", "extra_chars", "not_before",
                "not_after", "mention_before", "mention_after", "verb_objects", "modifier_nouns"):
        if key in rule:
            _str_list(name, f"{where} {key}", rule[key])
    if "swap" in rule:
        if not isinstance(rule["swap"], dict) or not all(isinstance(v, str) for v in rule["swap"].values()):
            raise _fail(name, f"{where} swap must be a table of term = replacement strings")
    if "modifier" in rule and (not isinstance(rule["modifier"], dict)
                               or not all(isinstance(v, str) for v in rule["modifier"].values())):
        raise _fail(name, f"{where} modifier must be a table of term = word before a noun")
    if "introduced" in rule:
        if not isinstance(rule["introduced"], dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in rule["introduced"].values()):
            raise _fail(name, f"{where} introduced must be a table of term = year")
        strays = sorted(set(rule["introduced"]) - set(rule.get("swap", {})))
        if strays:
            raise _fail(name, f"{where} introduced names '{strays[0]}', which is not in its swap table")
    if "pattern" in rule:
        try:
            re.compile(rule["pattern"])
        except re.error as err:
            raise _fail(name, f"{where} pattern does not compile: {err}") from None


def validate_rule_file(name: str, data: Any) -> None:
    """Raise InputError unless ``data`` (the parsed ``name``) follows the rule data format."""
    if name.endswith(".tsv"):   # a word list (engine 2.0.0's lists/): rows of the same width
        widths = {len(row) for row in data}
        if len(widths) > 1:
            raise _fail(name, f"rows have {sorted(widths)} fields; every row needs the same number")
        return
    if not isinstance(data, dict):
        raise _fail(name, "must be a TOML table")
    if name not in TOP:
        raise _fail(name, "is not a known rule file", f"known files: {', '.join(sorted(TOP))}")
    spec = TOP[name]
    _unknown(name, "the top level", set(data), set(spec))
    for key, allowed in spec.items():
        if key not in data or allowed is None or allowed == "rule":
            continue
        if not isinstance(data[key], dict):
            raise _fail(name, f"[{key}] must be a table")
        _unknown(name, f"[{key}]", set(data[key]), allowed)
    seen: set[str] = set()
    rules = data.get("rule", [])
    if not isinstance(rules, list):
        raise _fail(name, "rule must be an array of tables ([[rule]])")
    for i, rule in enumerate(rules, start=1):
        _check_rule(name, i, rule, seen)
    if name == "shot_specs.toml":
        for kind, setup in (data.get("setups") or {}).items():
            if not isinstance(setup, dict):
                raise _fail(name, f"[setups.{kind}] must be a table")
            _unknown(name, f"[setups.{kind}]", set(setup), SETUP_KEYS)
            missing = sorted(SETUP_KEYS - set(setup))
            if missing:
                raise _fail(name, f"[setups.{kind}] is missing '{missing[0]}'")
            if setup["size"] not in SIZES:
                raise _fail(name, f"[setups.{kind}] size '{setup['size']}' is not one of {', '.join(sorted(SIZES))}")
        for i, d in enumerate(data.get("direction") or [], start=1):
            _unknown(name, f"[[direction]] #{i}", set(d), DIRECTION_KEYS)
            _str_list(name, f"[[direction]] #{i} terms", d.get("terms"))
            if "size" in d and d["size"] not in SIZES:
                raise _fail(name, f"[[direction]] #{i} size '{d['size']}' is not a shot size")
        for k, v in (data.get("transitions") or {}).items():
            if not isinstance(v, str):
                raise _fail(name, f"[transitions] '{k}' must map to a string")
    if name == "prompts.toml":
        profiles = data.get("profiles") or {}
        if "generic" not in profiles:
            raise _fail(name, "[profiles.generic] is required (the default profile)")
        for pname, prof in profiles.items():
            if not isinstance(prof, dict):
                raise _fail(name, f"[profiles.{pname}] must be a table")
            _unknown(name, f"[profiles.{pname}]", set(prof), PROFILE_KEYS)
            missing = sorted({"max_prompt_chars", "clip_durations_ms", "aspects", "max_speaking_characters"}
                             - set(prof))
            if missing:
                raise _fail(name, f"[profiles.{pname}] is missing '{missing[0]}'")
            durs = prof["clip_durations_ms"]
            if not isinstance(durs, list) or not durs or not all(isinstance(x, int) and x > 0 for x in durs):
                raise _fail(name, f"[profiles.{pname}] clip_durations_ms must be a non-empty list of positive integers")
            _str_list(name, f"[profiles.{pname}] aspects", prof["aspects"])
    if name == "index.toml":
        for i, r in enumerate(data.get("range") or [], start=1):
            _unknown(name, f"[[range]] #{i}", set(r), RANGE_KEYS)
    if name == "explain.toml":
        for code, entry in (data.get("code") or {}).items():
            if not CODE_RE.match(code):
                raise _fail(name, f"[code.{code}] is not a code like PS123")
            if not isinstance(entry, dict):
                raise _fail(name, f"[code.{code}] must be a table")
            _unknown(name, f"[code.{code}]", set(entry), EXPLAIN_KEYS)
