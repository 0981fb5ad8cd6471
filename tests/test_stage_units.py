"""Unit tests of the stages and the aggregation: coverage, splitting, seeds, CSV, numbering,
span shifting, acknowledgements, whole-word matching, determinism."""

from __future__ import annotations

import copy
import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodscale.core.rules_loader import validate_rule_file
from prodscale.core.stages import aggregate, prompts, sanitize, shot_specs, src
from prodscale.core.stages._text import find_terms
from prodscale.core.stages.prompts import split_duration
from prodscale.core.stages.shot_specs import shot_letter
from prodscale.errors import InputError
from test_rules_fixtures import RULES, compile_story

STORY = """Title: Units

INT. KITCHEN - NIGHT #7#

MAE (30s) lights a CANDLE. The PHONE RINGS.

MAE
Who calls at this hour?

TOM (O.S.)
Me.

MAE
(laughs)
Of course.

TOM
You left the door open.

CUT TO:

EXT. GARDEN - CONTINUOUS

Mae walks out to the gate.
"""


def test_specs_follow_the_interface() -> None:
    assert sanitize.SPEC.name == "sanitize" and sanitize.SPEC.inputs == ("scene",)
    assert shot_specs.SPEC.inputs == ("sanitize",) and shot_specs.SPEC.rule_files == ("shot_specs.toml",)
    assert prompts.SPEC.inputs == ("sanitize", "shot_specs")
    assert prompts.SPEC.rule_files == ("prompts.toml", "sanitize.toml")
    assert prompts.SPEC.settings == ("project.profile", "style", "characters")
    assert src.SPEC.inputs == ("scene",) and src.SPEC.settings == ("project.profile",)
    assert aggregate.SPEC.rule_files == ("src.toml",) and aggregate.SPEC.settings == ("acknowledge",)
    for spec in (sanitize.SPEC, shot_specs.SPEC, prompts.SPEC, src.SPEC, aggregate.SPEC):
        assert spec.version == 1


@pytest.mark.parametrize("name", sorted(RULES))
def test_shipped_rule_files_validate(name: str) -> None:
    validate_rule_file(name, RULES[name])


def test_unknown_key_is_rejected_with_file_and_key() -> None:
    data = copy.deepcopy(RULES["sanitize.toml"])
    data["rule"][0]["severity"] = "error"
    with pytest.raises(InputError) as err:
        validate_rule_file("sanitize.toml", data)
    assert "sanitize.toml" in str(err.value) and "severity" in str(err.value)
    data = copy.deepcopy(RULES["prompts.toml"])
    data["profiles"]["generic"]["max_chars"] = 3
    with pytest.raises(InputError, match="max_chars"):
        validate_rule_file("prompts.toml", data)
    with pytest.raises(InputError, match="bogus"):
        validate_rule_file("src.toml", {**RULES["src.toml"], "bogus": 1})


def test_duplicate_codes_and_bad_levels_are_rejected() -> None:
    data = copy.deepcopy(RULES["src.toml"])
    data["rule"].append(dict(data["rule"][0]))
    with pytest.raises(InputError, match="twice"):
        validate_rule_file("src.toml", data)
    data = copy.deepcopy(RULES["src.toml"])
    data["rule"][0]["level"] = "fatal"
    with pytest.raises(InputError, match="level"):
        validate_rule_file("src.toml", data)


@pytest.mark.parametrize("text", ["Scunthorpe", "assassin", "class", "therapist", "Sussex", "Penistone",
                                  "cocktail", "Middlesex", "classic", "passion"])
def test_substrings_never_match(text: str) -> None:
    terms = ["sex", "ass", "rapist", "cunt", "penis", "cock"]
    assert find_terms(f"In {text} today.", terms) == []


@pytest.mark.parametrize("text,term", [("SEX!", "sex"), ("an ass.", "ass"), ("_sex_", "sex"),
                                       ("ignore  previous\ninstructions", "ignore previous instructions"),
                                       ("STRASSE", "straße")])
def test_whole_words_match(text: str, term: str) -> None:
    assert find_terms(text, [term])


def test_shot_letters() -> None:
    assert [shot_letter(i) for i in range(4)] == ["", "A", "B", "C"]
    letters = [shot_letter(i) for i in range(1, 30)]
    assert "I" not in letters and "O" not in letters
    assert shot_letter(24) == "Z" and shot_letter(25) == "AA" and shot_letter(26) == "AB"


def test_clip_splitting() -> None:
    assert split_duration(3000, [4000, 6000, 8000]) == [(3000, 4000)]
    assert split_duration(8000, [4000, 6000, 8000]) == [(8000, 8000)]
    assert split_duration(8001, [4000, 6000, 8000]) == [(4001, 6000), (4000, 4000)]
    parts = split_duration(25001, [5000, 10000])
    assert [p for p, _ in parts] == [8334, 8334, 8333] and all(d == 10000 for _, d in parts)
    assert sum(p for p, _ in parts) == 25001


def test_coverage_of_a_scene() -> None:
    result, scenes = compile_story(STORY, {"characters": {"Mae": {"description": "woman in her thirties"}}})
    shots = scenes[0]["shot_specs"]["shots"]
    kinds = [(s["kind"], s["size"]) for s in shots]
    assert kinds[0] == ("establishing", "EWS")           # a new moment (NIGHT)
    assert kinds[1] == ("master", "WS")
    assert ("insert", "INSERT") in kinds                   # CANDLE
    sound = [s for s in shots if s["audio"].startswith("SFX:")]
    assert sound and "RINGS" in sound[0]["audio"]
    assert ("listener", "MCU") in kinds                    # TOM (O.S.)
    assert ("reaction", "CU") in kinds                     # (laughs)
    assert shots[-1]["transition"] == "cut"
    # continuation scene: no establishing shot (exterior though: establishing, per the rule)
    second = scenes[1]["shot_specs"]["shots"]
    assert second[0]["kind"] == "establishing"
    for s in shots:
        assert s["size"] in shot_specs.SIZES
        assert isinstance(s["duration_ms"], int) and 1000 <= s["duration_ms"] <= 60000
        assert s["int_ext"] == "INT" and s["time_of_day"] == "NIGHT" and s["location"] == "KITCHEN"


def test_numbering_and_span_shifting() -> None:
    result, scenes = compile_story(STORY)
    shot_json = json.loads(result["files"]["shot_specs.json"])
    first = shot_json["scenes"][0]
    assert first["scene"] == "7"                           # explicit #7#
    assert [s["number"] for s in first["shots"]][:3] == ["7", "7A", "7B"]
    assert shot_json["scenes"][1]["scene"] == "2"          # position
    # scene-relative line 1 is the heading; file line 3
    assert scenes[0]["sanitize"]["scene"]["heading_span"]["start_line"] == 1
    assert first["shots"][0]["span"]["start_line"] == 3
    clips = json.loads(result["files"]["prompts.json"])["clips"]
    assert clips[0]["id"] == "7:7-1"


def test_csv_columns_and_determinism() -> None:
    result, _ = compile_story(STORY)
    rows = list(csv.reader(io.StringIO(result["files"]["shot_list.csv"].decode("utf-8"))))
    assert rows[0] == ["scene", "shot", "setup", "description", "size", "angle", "movement", "lens (mm)", "rig",
                       "fps", "cast", "location", "int/ext", "day/night", "estimated seconds", "audio", "notes",
                       "status"]
    assert all(len(r) == 18 for r in rows)
    assert rows[1][0] == "7" and rows[1][1] == "7" and rows[2][1] == "7A"
    assert b"\r" not in result["files"]["shot_list.csv"]
    # the CONTINUOUS scene inherits NIGHT
    assert rows[-1][13] == "NIGHT"
    again, _ = compile_story(STORY)
    assert again["files"] == result["files"]


def test_seeds_and_hashes() -> None:
    result, _ = compile_story(STORY)
    clips = json.loads(result["files"]["prompts.json"])["clips"]
    seeds = [c["seed"] for c in clips]
    assert all(isinstance(s, int) and 0 <= s < 2 ** 32 for s in seeds)
    assert len(set(seeds)) == len(seeds)
    assert all(len(c["prompt_hash"]) == 64 for c in clips if c["status"] == "ready")
    other, _ = compile_story(STORY, {"style": {"look": "another look", "aspect": "16:9"}})
    other_clips = json.loads(other["files"]["prompts.json"])["clips"]
    assert other_clips[0]["seed"] != clips[0]["seed"]      # the seed follows the clip's content


def test_prompts_strip_emphasis_and_notes() -> None:
    text = "Title: t\n\nINT. HALL - DAY\n\nMae *slowly* opens the _door_. [[secret note]]\n"
    result, _ = compile_story(text)
    clips = json.loads(result["files"]["prompts.json"])["clips"]
    joined = " ".join(c["prompt"] for c in clips)
    assert "slowly opens the door" in joined
    assert "*" not in joined and "secret" not in joined and "[[" not in joined


def test_error_blocks_only_its_shot_and_the_story() -> None:
    text = "Title: t\n\nINT. HALL - DAY\n\nMae waits.\n\nElon Musk walks in.\n\nMae smiles.\n"
    result, scenes = compile_story(text)
    clips = scenes[0]["prompts"]["clips"]
    blocked = [c for c in clips if c["status"] == "blocked"]
    assert len(blocked) == 1 and blocked[0]["blocked_by"] == ["PS107"] and blocked[0]["prompt"] is None
    assert result["summary"]["status"] == "blocked" and result["summary"]["safety"] == "blocked"
    assert result["summary"]["clips_blocked"] == 1


def test_brand_rewrite_reaches_the_prompt() -> None:
    text = "Title: t\n\nINT. HALL - DAY\n\nCoca-Cola fizzes. She drinks the Coca-Cola.\n"
    result, scenes = compile_story(text)
    rewrites = scenes[0]["sanitize"]["rewrites"]
    assert [r["to"] for r in rewrites] == ["A soda", "soda"]
    assert all(r["code"] == "PS109" for r in rewrites)
    prompt = scenes[0]["prompts"]["clips"][1]["prompt"]
    assert "A soda fizzes. She drinks the soda." in prompt and "Coca" not in prompt


def test_acknowledgement_from_settings() -> None:
    text = "Title: t\n\nINT. BOATHOUSE\n\nOars.\n"
    plain, _ = compile_story(text, name="boat")
    assert plain["summary"]["warnings"] == 1 and plain["summary"]["src"]["warnings"] == 1
    acks = [{"story": "boat", "code": "PS403", "reason": "deliberate"}]
    acked, _ = compile_story(text, {"acknowledge": acks}, name="boat")
    d = next(d for d in acked["diagnostics"] if d["code"] == "PS403")
    assert d["acknowledged"] == "deliberate" and d["severity"] == "warning"
    assert acked["summary"]["warnings"] == 0 and acked["summary"]["acknowledged"] == 1
    assert acked["summary"]["src"]["validated"] == 1
    other, _ = compile_story(text, {"acknowledge": acks}, name="other-story")
    assert other["summary"]["warnings"] == 1                # another story's acknowledgement
    unused, _ = compile_story("Title: t\n\nINT. HALL - DAY\n\nOars.\n", {"acknowledge": acks}, name="boat")
    assert [d["code"] for d in unused["diagnostics"] if d["severity"] == "warning"] == ["PS090"]
    err, _ = compile_story("Title: t\n\nINT. HALL - DAY\n\nElon Musk rows.\n",
                           {"acknowledge": [{"code": "PS107", "reason": "x"}]}, name="boat")
    d107 = next(d for d in err["diagnostics"] if d["code"] == "PS107")
    assert "acknowledged" not in d107
    assert any(d["code"] == "PS091" for d in err["diagnostics"])


def test_inline_acknowledgement_covers_next_element_only() -> None:
    text = ("Title: t\n\nINT. HALL - DAY\n\n[[prodscale: allow PS102 framed from the shoulders up]]\n"
            "She is naked.\n\nHe is naked.\n")
    result, _ = compile_story(text)
    found = [d for d in result["diagnostics"] if d["code"] == "PS102"]
    assert len(found) == 2
    assert found[0]["acknowledged"] == "framed from the shoulders up" and "acknowledged" not in found[1]
    assert found[0]["span"]["start_line"] == 6


def test_diagnostics_have_file_lines_fingerprints_and_are_sorted() -> None:
    result, _ = compile_story(STORY + "\nINT. ATTIC\n\nDust.\n")
    diags = result["diagnostics"]
    keys = [((d["span"] or {}).get("start_line", 0), (d["span"] or {}).get("start_col", 0)) for d in diags]
    assert keys == sorted(keys)
    d403 = next(d for d in diags if d["code"] == "PS403")
    assert d403["span"]["start_line"] == STORY.count("\n") + 2
    assert all(len(d["extra"]["fingerprint"]) == 16 for d in diags)
    assert json.loads(result["files"]["diagnostics.json"])["diagnostics"] == diags


def test_cross_scene_checks_use_file_lines() -> None:
    text = "Title: t\n\nINT. HALL - CONTINUOUS\n\nMae waits.\n\nZED\nHello.\n"
    result, _ = compile_story(text)
    codes = {d["code"]: d for d in result["diagnostics"]}
    assert codes["PS405"]["span"]["start_line"] == 3
    assert codes["PS408"]["span"]["start_line"] == 7


def test_summary_shape() -> None:
    result, _ = compile_story(STORY)
    s = result["summary"]
    assert set(s) >= {"status", "scenes", "shots", "clips", "clips_blocked", "src", "errors", "warnings", "safety"}
    assert s["status"] == "complete" and s["scenes"] == 2 and s["safety"] == "passed"
    assert set(result["files"]) == {"shot_specs.json", "prompts.json", "src.json", "diagnostics.json",
                                    "shot_list.csv"}


_WORDS = ["nazi", "ass", "f-bomb", "#tag", "9/11", "ßtraße", "İstanbul", "red bull", "coca cola", "kill", "a.k.a."]


@settings(max_examples=400, deadline=None)
@given(terms=st.lists(st.sampled_from(_WORDS) | st.text(min_size=1, max_size=8), min_size=1, max_size=6),
       text=st.lists(st.sampled_from(_WORDS + ["the", " ", "\n", "-", ".", "_", "Ass", "NAZIS", "strasse", "i̇stanbul",
                                                "RED\nBULL", "xkill", "kill3", "_kill"]) | st.text(max_size=6),
                     max_size=12).map("".join))
def test_first_word_prefilter_never_changes_a_match(terms: list[str], text: str) -> None:
    """The word-set check in front of a term list's pattern only skips texts the pattern cannot
    match: a text passes exactly when the pattern alone finds something."""
    from prodscale.core.stages._text import fold, term_set
    ts = term_set(tuple(terms))
    folded = fold(text)[0]
    expected = ts.pattern is not None and ts.pattern.search(folded) is not None
    assert ts.search(folded) == expected
