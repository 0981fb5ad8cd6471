"""Engine 2.0.0's Scene Reality Check and establishing shots on cases from real scripts: what a crew would
not act on is not reported."""

from __future__ import annotations

from test_v2_explain import compile_v2


def _codes(text: str) -> list[str]:
    return [d["code"] for d in compile_v2("Title: x\n\n" + text)["diagnostics"]]


def test_stepping_out_of_a_building_is_not_two_places_at_once() -> None:
    text = ("INT. GARAGE - DAY\n\nWARD (40) works under a car.\n\nWARD\nHand me that.\n\n"
            "EXT. SOUTH LA - GARAGE HOUSE - SAME TIME\n\nWard rolls out under the door.\n\nWARD\nNever mind.\n")
    assert "PS409" not in _codes(text)
    elsewhere = text.replace("EXT. SOUTH LA - GARAGE HOUSE", "EXT. HARBOUR")
    assert "PS409" in _codes(elsewhere)


def test_a_place_written_short_after_a_continuation_is_not_established_again() -> None:
    import orjson
    text = ("INT. HAL'S IN VENICE - NIGHT\n\nHANK (40) drinks.\n\nINT. HAL'S - LATER\n\nHank drinks more.\n")
    spec = orjson.loads(compile_v2("Title: x\n\n" + text)["files"]["shot_specs.json"])
    kinds = [[s["kind"] for s in sc["shots"]] for sc in spec["scenes"]]
    assert kinds[0][0] == "establishing" and "establishing" not in kinds[1]
    other = text.replace("INT. HAL'S - LATER", "INT. BOATHOUSE - LATER")
    spec = orjson.loads(compile_v2("Title: x\n\n" + other)["files"]["shot_specs.json"])
    assert spec["scenes"][1]["shots"][0]["kind"] == "establishing"


def test_grown_ups_called_girls_or_kids_are_no_minors() -> None:
    import orjson
    def minors(line: str) -> list[str]:
        spec = orjson.loads(compile_v2("Title: x\n\nINT. CLUB - NIGHT\n\nNELL (40) waits.\n\n" + line + "\n")
                            ["files"]["shot_specs.json"])
        return [m["item"] for sc in spec["scenes"] for m in sc["breakdown"]["minors"]]
    assert minors("A REALLY SEXY GIRL dances.") == []
    assert minors("They sit apart from the “cool kids”.") == []
    assert minors("A LITTLE GIRL waves.") == ["GIRL"]
    assert minors("Two kids play.") == ["kids"]


def test_a_broken_line_of_action_is_no_character() -> None:
    import orjson
    text = ("INT. GARAGE - NIGHT\n\nThe engine coughs.\n\nWE CUT BACK AND\nthe car is gone.\n\n"
            "KILL THEM ALL? THAT'S HIGH\nstakes for a Tuesday.\n\nNELL\nStill here.\n")
    out = compile_v2("Title: x\n\n" + text)
    spec = orjson.loads(out["files"]["shot_specs.json"])
    assert [c["name"] for c in spec["characters"]] == ["NELL"]
    assert [d["code"] for d in out["diagnostics"]].count("PS012") == 2


def test_a_title_is_no_second_character() -> None:
    import orjson
    text = ("EXT. ROAD - DAY\n\nDEPUTY JORDAN (20) waves the car down.\n\nJORDAN\nLicence, please.\n\n"
            "DEPUTY JORDAN\nAnd registration.\n")
    spec = orjson.loads(compile_v2("Title: x\n\n" + text)["files"]["shot_specs.json"])
    assert len(spec["characters"]) == 1


def test_more_broken_cues_from_converted_scripts() -> None:
    import orjson
    from prodscale.core.v2_0.reading import lexicon, not_a_name
    from test_v2_explain import RULES
    lex = lexicon(RULES["reading.toml"])
    for junk in ["HAVING THE SAME FUCKING FIGHT.", "YOGURT, I OFFERED YOU YOGURT", "MEANWHILE, OUT", "OF THREE HOURS",
                 "IN GABBI'S", "CONTINUOUS", "GOING ON YOU SHOULD THINK ABOUT", "KILL THEM? THAT'S HIGH",
                 "FUCK THAT SHIT. WE'RE IN LOS"]:
        assert not_a_name(junk, lex), junk
    for name in ["E! REPORTER", "DR. STRANGELOVE", "MRS. DALLOWAY", "YOUNG WOMAN", "OFFICER KRUPKE", "THE MAN IN BLACK",
                 "HAL 9000", "JOHN, JR.", "PROF. MORIARTY", "CAPT. HOOK", "MRS. DALLOWAY"]:
        assert not not_a_name(name, lex), name
    text = "INT. DEN - DAY\n\nGRIFFIN (30) waits.\n\nGRIFFIN GRIFFIN\nHello.\n"
    spec = orjson.loads(compile_v2("Title: x\n\n" + text)["files"]["shot_specs.json"])
    assert [c["name"] for c in spec["characters"]] == ["GRIFFIN"]


def test_the_action_says_the_light_when_the_heading_does_not() -> None:
    import orjson
    text = ("INT. CLUB - NIGHT\n\nHELEN (30) dances.\n\nINT. HELEN'S HOUSE - BEDROOM\n\n"
            "Morning light filters in through the blinds. Helen sleeps.\n")
    spec = orjson.loads(compile_v2("Title: x\n\n" + text)["files"]["shot_specs.json"])
    bedroom = spec["scenes"][1]
    assert (bedroom["light"], bedroom["day_night"], bedroom["light_from"]) == ("MORNING", "DAY", "action")
    dark = text.replace("Morning light filters in through the blinds. ", "")
    bedroom = orjson.loads(compile_v2("Title: x\n\n" + dark)["files"]["shot_specs.json"])["scenes"][1]
    assert (bedroom["day_night"], bedroom["light_from"]) == ("NIGHT", "assumed")


def test_an_intercut_written_as_a_sentence_places_each_party() -> None:
    import orjson
    text = ("INT. MI-5 OFFICE - NIGHT\n\nKELLY (30) dials.\n\nKELLY\nShawn?\n\n"
            "EXT. ROADSIDE - NIGHT\n\nSHAWN (30) answers his phone.\n\nWe intercut between Shawn and Kelly.\n\n"
            "SHAWN\nKelly. Not now.\n\nKELLY\nNow.\n\nSHAWN\nFine.\n")
    spec = orjson.loads(compile_v2("Title: x\n\n" + text)["files"]["shot_specs.json"])
    road = spec["scenes"][1]
    assert road["intercut"]["parties"] == {"KELLY": "MI-5 OFFICE", "SHAWN": "ROADSIDE"}
    talk = [s for s in road["shots"] if s["kind"] == "dialogue"]
    assert talk and all(len(s["subjects"]) == 1 and s["size"] not in ("2S", "OTS") for s in talk)


def test_leftovers_of_a_converted_page_make_no_shot() -> None:
    from prodscale.core.v2_0.stages.shot_specs import _no_picture
    cfg = {"no_shot": ["back to the present"]}
    for junk in ["(MO RE)", "(MORE)", "Cor y (cont'd).", "Cut to: the.", "Through the.", "Out of.", "To.", "The.",
                 "Back to the present.", "!."]:
        assert _no_picture(junk, cfg), junk
    for action in ["He gets in.", "She looks on.", "Nell waits.", "They drive off.", "Silence."]:
        assert not _no_picture(action, cfg), action


def test_capitals_that_qualify_the_next_word_are_no_insert() -> None:
    import orjson
    def inserts(line: str) -> list[str]:
        spec = orjson.loads(compile_v2("Title: x\n\nINT. HALL - DAY\n\nNELL (40) waits.\n\n" + line + "\n")
                            ["files"]["shot_specs.json"])
        return [s["description"] for sc in spec["scenes"] for s in sc["shots"] if s["kind"] == "insert"]
    for line in ["A MASSIVE firefight erupts.", "The LA actor waves.", "She is a TRULY HORRIBLE person.",
                 "There are a TON OF THEM."]:
        assert inserts(line) == [], line
    assert inserts("He lifts a LANTERN and runs.") == ["Insert: lantern."]
    assert inserts("She opens the LETTER slowly.") == ["Insert: letter."]


def test_inside_right_after_its_outside_is_not_established_again() -> None:
    import orjson
    text = ("EXT. BRENDAN'S APARTMENT - DAY\n\nBRENDAN (30) climbs the stairs.\n\n"
            "INT. BRENDAN'S APARTMENT - CONTINUOUS\n\nHe drops his keys.\n\n"
            "INT. BOATHOUSE - DAY\n\nNELL (40) waits.\n")
    spec = orjson.loads(compile_v2("Title: x\n\n" + text)["files"]["shot_specs.json"])
    firsts = [sc["shots"][0]["kind"] for sc in spec["scenes"]]
    assert firsts == ["establishing", "master", "establishing"]
