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
