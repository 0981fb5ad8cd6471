"""Engine 2.0.0's reading, rule by rule: each heading, slug, structure, cue, transition, INTERCUT and
entity rule with a case that must fire and one that must not (the screenplay lines are our own)."""

from __future__ import annotations

from typing import Any

import pytest

from prodscale.core.fountain import parse
from prodscale.core.v2_0.headings import read_heading
from prodscale.core.v2_0.reading import read_story, voice_of, lexicon
from prodscale.storage.project import load_rules

RULES = load_rules("2.0.0").data


def read(text: str) -> Any:
    return read_story(parse(text), RULES)


def scenes(text: str) -> list[dict[str, Any]]:
    return [u.payload for u in read(text).units]


def heading(rest: str) -> Any:
    return read_heading(rest, "INT", RULES["reading.toml"])


# ---------------------------------------------------------------------------------------------
# Headings
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rest, set_, area, light, dn", [
    ("VICTOR'S FLAT - BASEMENT LAB", "VICTOR'S FLAT", "BASEMENT LAB", None, None),
    ("ROAD - DAY - FLASHBACK", "ROAD", None, "DAY", "DAY"),
    ("SAN FRANCISCO APARTMENT, DAY", "SAN FRANCISCO APARTMENT", None, "DAY", "DAY"),
    ("HALLWAY, SCOTT'S APARTMENT BUILDING - NIGHT", "SCOTT'S APARTMENT BUILDING", "HALLWAY", "NIGHT", "NIGHT"),
    ("JOE'S DINER, BACK ROOM -- NIGHT", "JOE'S DINER", "BACK ROOM", "NIGHT", "NIGHT"),   # must not reverse
    ("X-RAY LAB – MAGIC HOUR", "X-RAY LAB", None, "MAGIC HOUR", "DUSK"),                 # a hyphen in a name
    ("BOATHOUSE / DOCK - DAWN", "BOATHOUSE", "DOCK", "DAWN", "DAWN"),
    ("GREENHOUSE - LATER THAT NIGHT", "GREENHOUSE", None, "NIGHT", "NIGHT"),
    ("LIGHTHOUSE - THE NEXT MORNING", "LIGHTHOUSE", None, "MORNING", "DAY"),
    ("FERRY TERMINAL - 9:30 PM", "FERRY TERMINAL", None, "9:30 PM", "NIGHT"),
    ("FERRY TERMINAL - 7:15 AM", "FERRY TERMINAL", None, "7:15 AM", "DAY"),
    ("LOCKER 12 - DAY", "LOCKER 12", None, "DAY", "DAY"),
    ("BARN - DAY (1985)", "BARN", None, "DAY", "DAY"),
    ("WORKSHOP- NIGHT", "WORKSHOP", None, "NIGHT", "NIGHT"),
])
def test_heading_segments(rest: str, set_: str, area: str | None, light: str | None, dn: str | None) -> None:
    r = heading(rest)
    assert (r.set, r.area, r.light, r.day_night) == (set_, area, light, dn)


@pytest.mark.parametrize("rest, modifiers", [
    ("ROAD - DAY - FLASHBACK", ["FLASHBACK"]),
    ("SHIP - NIGHT [THE STORM]", ["THE STORM"]),
    ("BARN - DAY (1985)", ["1985"]),
    ("MARKET - DAY - MONTAGE", ["MONTAGE"]),
    ("STREETS - NIGHT - SERIES OF SHOTS", ["SERIES OF SHOTS"]),
    ("MOTEL - DAY - PRESENT DAY", ["PRESENT DAY"]),
    ("MOTEL - DAY", []),
])
def test_heading_modifiers_are_kept_apart_from_the_light(rest: str, modifiers: list[str]) -> None:
    r = heading(rest)
    assert r.modifiers == modifiers and r.light == "DAY" or r.light == "NIGHT"


def test_continuations_take_the_light_of_the_scene_they_continue() -> None:
    sc = scenes("INT. KITCHEN - NIGHT\n\nMARA pours tea.\n\nINT. HALLWAY - CONTINUOUS\n\nShe carries it out.\n\n"
                "EXT. GARDEN - MOMENTS LATER\n\nShe sits.\n\nEXT. GARDEN - DAY\n\nSun.\n")
    assert [(s["light"], s["light_from"]) for s in sc] == [
        ("NIGHT", "heading"), ("NIGHT", "continuation"), ("NIGHT", "continuation"), ("DAY", "heading")]
    assert sc[1]["continuation"] == "CONTINUOUS" and sc[1]["time_of_day"] == "NIGHT"


def test_a_continuation_with_nothing_to_continue_has_no_light() -> None:
    sc = scenes("INT. KITCHEN - CONTINUOUS\n\nMARA pours tea.\n")
    assert sc[0]["light"] is None and sc[0]["continuation"] == "CONTINUOUS"


def test_a_heading_without_time_assumes_the_light_before_it_and_a_time_jump_does_not() -> None:
    sc = scenes("INT. KITCHEN - NIGHT\n\nTea.\n\nINT. PANTRY\n\nJars.\n\nINT. PANTRY - TWO DAYS LATER\n\nDust.\n")
    assert (sc[1]["light"], sc[1]["light_from"]) == ("NIGHT", "assumed")
    assert sc[2]["light"] is None and sc[2]["time_jump"] == "TWO DAYS LATER"


# ---------------------------------------------------------------------------------------------
# Secondary slugs
# ---------------------------------------------------------------------------------------------

def test_forced_slugs_are_shots_within_the_scene() -> None:
    text = ("INT. STUDIO - NIGHT\n\nPELL paints by lamplight.\n\n.PELL\n\nHis brush stops.\n\n"
            ".THE CANVAS\n\nWet paint runs.\n\n.BACK IN THE STUDIO\n\nHe sighs.\n")
    sc = scenes(text)
    assert len(sc) == 1 and sc[0]["light"] == "NIGHT"
    slugs = [e for e in sc[0]["elements"] if e["kind"] == "slug"]
    assert [(s["subject"], s["source"]) for s in slugs] == [
        ("PELL", "forced"), ("THE CANVAS", "forced"), ("THE STUDIO", "forced")]


def test_a_forced_heading_with_a_place_and_a_light_is_a_scene() -> None:
    sc = scenes("INT. STUDIO - NIGHT\n\nPaint.\n\n.ORBITAL STATION - NIGHT\n\nStars.\n")
    assert [s["set"] for s in sc] == ["STUDIO", "ORBITAL STATION"]


@pytest.mark.parametrize("line, framing, subject", [
    ("ANGLE ON THE DOOR", "MS", "THE DOOR"),
    ("INSERT - THE LETTER", "INSERT", "THE LETTER"),
    ("CLOSE ON HER HANDS", "CU", "HER HANDS"),
    ("CLOSEUP - PELL - NIGHT", "CU", "PELL"),
    ("WIDE ON THE HARBOUR", "WS", "THE HARBOUR"),
    ("PELL'S POV - THE CLIFF", "POV", "THE CLIFF"),
    ("PELL'S POV", "POV", "PELL"),
    ("ON THE TV", "INSERT", ""),
    ("BACK TO SCENE", "", ""),
])
def test_slug_lines_in_action_carry_their_framing(line: str, framing: str, subject: str) -> None:
    sc = scenes(f"INT. STUDIO - NIGHT\n\nPaint.\n\n{line}\nSomething happens here.\n")
    el = sc[0]["elements"]
    slug = next(e for e in el if e["kind"] == "slug")
    assert (slug["framing"], slug["subject"]) == (framing, subject)
    assert el[-1]["kind"] == "action" and el[-1]["text"] == "Something happens here."


@pytest.mark.parametrize("line", ["Angle of the roof is steep.", "ON THE TABLE, a knife glints.",
                                  "CLOSEST to the door sits NELL."])
def test_ordinary_action_is_not_a_slug(line: str) -> None:
    sc = scenes(f"INT. STUDIO - NIGHT\n\n{line}\n")
    assert [e["kind"] for e in sc[0]["elements"]] == ["action"]


def test_a_slug_before_any_scene_opens_the_prologue() -> None:
    sc = scenes(".ON THE HORIZON\n\nA sail.\n\nEXT. BEACH - DAY\n\nWaves.\n")
    assert sc[0]["prologue"] and sc[0]["number"] == "0"
    assert sc[0]["elements"][0]["kind"] == "slug" and sc[1]["number"] == "1"


def test_a_cue_that_is_a_slug_is_read_as_one_with_a_warning() -> None:
    r = read("INT. COCKPIT - NIGHT\n\nSTRIKER sweats.\n\nBACK TO STRIKER\nHe grips the yoke.\n\n"
             "STRIKER\nWe're going down.\n")
    el = r.units[0].payload["elements"]
    assert [e["kind"] for e in el] == ["action", "slug", "action", "character", "dialogue"]
    assert el[2]["text"] == "He grips the yoke."
    assert [d["code"] for d in r.diagnostics] == ["PS011"]


def test_a_cue_that_starts_like_a_slug_word_is_still_a_cue() -> None:
    r = read("INT. COCKPIT - NIGHT\n\nBACKSTROM\nCoffee?\n\nWIDE\nNo thanks.\n")
    el = r.units[0].payload["elements"]
    assert [e["kind"] for e in el] == ["character", "dialogue", "character", "dialogue"] and not r.diagnostics


# ---------------------------------------------------------------------------------------------
# Before the first heading: transitions, structure, title cards, prologue
# ---------------------------------------------------------------------------------------------

def test_fade_in_and_act_labels_make_no_prologue() -> None:
    sc = scenes("FADE IN:\n\nTEASER\n\nINT. DOCK - DAWN\n\nFog.\n\nEND OF TEASER\n\nACT ONE\n\nEXT. PIER - DAY\n\nGulls.\n")
    assert [s["number"] for s in sc] == ["1", "2"]
    kinds = [(e["kind"], e["text"]) for e in sc[0]["elements"]]
    assert ("structure", "END OF TEASER") in kinds and ("structure", "ACT ONE") in kinds


@pytest.mark.parametrize("text, kind", [
    ("COLD OPEN", "structure"), ("ACT THREE", "structure"), ("END OF ACT 2", "structure"), ("THE END", "structure"),
    ("OPENING TITLES", "structure"), ("SUPER: Three years later", "card"),
])
def test_structure_labels(text: str, kind: str) -> None:
    sc = scenes(f"INT. DOCK - DAWN\n\nFog.\n\n{text}\n")
    assert sc[0]["elements"][-1]["kind"] == kind


@pytest.mark.parametrize("text", ["ACTION FIGURES line the shelf.", "The act is over.", "ACTIVE"])
def test_not_structure(text: str) -> None:
    sc = scenes(f"INT. DOCK - DAWN\n\nFog.\n\n{text}\n")
    assert sc[0]["elements"][-1]["kind"] not in ("structure", "card")


def test_a_prologue_of_action_compiles_with_a_warning() -> None:
    sc = scenes("FADE IN:\n\nWind over an empty plain.\n\nINT. HUT - NIGHT\n\nA candle.\n")
    assert sc[0]["prologue"] and sc[0]["number"] == "0" and sc[1]["number"] == "1"
    assert sc[0]["elements"][0]["kind"] == "transition"


# ---------------------------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["SMASH CUT TO:", "MATCH CUT TO:", "CUT BACK TO:", "FLASH TO:", "TIME CUT:",
                                  "JUMP CUT TO:", "CUT TO BLACK", "FADE TO BLACK.", "DISSOLVE TO:", "WIPE TO:",
                                  "CUT TO:   "])
def test_transitions(text: str) -> None:
    sc = scenes(f"INT. DOCK - DAWN\n\nFog.\n\n{text}\n\nEXT. PIER - DAY\n\nGulls.\n")
    assert sc[0]["elements"][-1]["kind"] == "transition"


@pytest.mark.parametrize("text", ["Cut to the chase, she says.", "FADE IN THE RAIN, a lamp."])
def test_not_transitions(text: str) -> None:
    sc = scenes(f"INT. DOCK - DAWN\n\nFog.\n\n{text}\n\nEXT. PIER - DAY\n\nGulls.\n")
    assert sc[0]["elements"][-1]["kind"] != "transition"


# ---------------------------------------------------------------------------------------------
# INTERCUT
# ---------------------------------------------------------------------------------------------

def test_an_intercut_phone_call_knows_both_places_and_who_is_where() -> None:
    sc = scenes("INT. ORLA'S FLAT - NIGHT\n\nORLA dials.\n\nORLA\nPick up.\n\nINTERCUT WITH:\n\n"
                "INT. BRAM'S OFFICE - NIGHT\n\nBRAM answers.\n\nBRAM\nIt's late.\n\nORLA\nI know.\n")
    assert sc[0]["intercut"] is None
    ic = sc[1]["intercut"]
    assert ic["locations"] == ["ORLA'S FLAT", "BRAM'S OFFICE"]
    assert ic["parties"] == {"BRAM": "BRAM'S OFFICE", "ORLA": "ORLA'S FLAT"}


def test_no_marker_no_intercut() -> None:
    sc = scenes("INT. ORLA'S FLAT - NIGHT\n\nORLA dials.\n\nINT. BRAM'S OFFICE - NIGHT\n\nBRAM answers.\n")
    assert [s["intercut"] for s in sc] == [None, None]


# ---------------------------------------------------------------------------------------------
# Cues
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cue, names, group", [
    ("TROY / ABED", ["TROY", "ABED"], None), ("EDWARD AND WILL", ["EDWARD", "WILL"], None),
    ("MOM & DAD", ["MOM", "DAD"], None), ("BOTH", [], "both"), ("ALL", [], "all"),
    ("R2/D2", ["R2/D2"], None), ("JEAN-LUC", ["JEAN-LUC"], None),
])
def test_joint_cues(cue: str, names: list[str], group: str | None) -> None:
    sc = scenes(f"INT. DOCK - DAWN\n\nFog.\n\n{cue}\nHello.\n")
    el = next(e for e in sc[0]["elements"] if e["kind"] == "character")
    assert el["names"] == names and el.get("group") == group


@pytest.mark.parametrize("ext, voice", [("V.O.", "vo"), ("VO", "vo"), ("O.S.", "os"), ("O.C.", "os"),
                                        ("ON PHONE", "device"), ("FILTERED", "device"), ("CONT'D", None),
                                        (None, None), ("whispering", None)])
def test_voice_over_off_screen_and_devices_are_told_apart(ext: str | None, voice: str | None) -> None:
    assert voice_of(ext, lexicon(RULES["reading.toml"])) == voice


# ---------------------------------------------------------------------------------------------
# Numbering
# ---------------------------------------------------------------------------------------------

def test_script_numbers_are_honoured_and_positions_fill_in() -> None:
    sc = scenes("INT. A - DAY #12#\n\nOne.\n\nINT. B - DAY #12A#\n\nTwo.\n\nINT. C - DAY\n\nThree.\n")
    assert [s["number"] for s in sc] == ["12", "12A", "3"]


# ---------------------------------------------------------------------------------------------
# Cast and breakdown
# ---------------------------------------------------------------------------------------------

def cast_of(text: str) -> list[tuple[str, bool, bool]]:
    return [(c["name"], c["speaks"], c["on_screen"]) for c in scenes(text)[-1]["cast"]]


def breakdown_of(text: str) -> dict[str, list[str]]:
    return {k: [x["item"] for x in v] for k, v in scenes(text)[-1]["breakdown"].items() if v}


def test_a_character_introduced_in_capitals_is_cast_without_speaking() -> None:
    assert cast_of("INT. LOFT - DAY\n\nPELL (30s) is painting. NELL watches.\n\nNELL\nNice.\n") == [
        ("PELL", False, True), ("NELL", True, True)]


def test_later_mentions_by_name_and_alias_are_cast() -> None:
    text = ("INT. LAB - DAY\n\nWALTER WHITE (50) stirs a beaker.\n\nWALT\nAlmost.\n\n"
            "INT. GARAGE - NIGHT\n\nWalter waits in the dark.\n")
    assert cast_of(text) == [("WALT", False, True)]


def test_age_under_eighteen_is_a_minor() -> None:
    bd = breakdown_of("INT. NURSERY - DAY\n\nWILL BLOOM, AGE 3, stacks blocks. His mother ROSA (40) smiles.\n")
    assert bd["minors"] == ["WILL BLOOM"]


def test_a_lowercase_name_word_is_not_a_mention() -> None:
    text = "INT. LAB - DAY\n\nHOPE (20s) types.\n\nINT. HALL - DAY\n\nThere is no hope left in the hall.\n"
    assert cast_of(text) == []


@pytest.mark.parametrize("text, category, item", [
    ("Two COPS burst in.", "background", "COPS"),
    ("A crowd of commuters pushes past.", "background", "crowd"),
    ("AN RV rattles up the road.", "vehicles", "RV"),
    ("He draws a pistol.", "weapons", "pistol"),
    ("A DOG barks.", "animals", "DOG"),
    ("She wears a yellow raincoat.", "wardrobe", "raincoat"),
    ("Blood on his collar.", "makeup", "blood"),       # listed words are tagged in lower case ...
    ("RAIN lashes the windows.", "special_effects", "RAIN"),   # ... unless the writer capitalised them
    ("BAM! The door gives.", "sound", "BAM"),
    ("She pockets the brass KEY.", "props", "KEY"),
])
def test_breakdown_categories(text: str, category: str, item: str) -> None:
    assert item in breakdown_of(f"INT. HALL - DAY\n\n{text}\n").get(category, [])


@pytest.mark.parametrize("text, never", [
    ("TILT DOWN to the floor.", "TILT DOWN"), ("She is NOT happy.", "NOT"), ("A NEW day.", "NEW"),
    ("NELL (30s) enters. NELL sits.", "NELL"), ("The phone RINGS.", "RINGS"), ("ACT ONE begins.", "ACT ONE"),
])
def test_never_props(text: str, never: str) -> None:
    assert never not in breakdown_of(f"INT. HALL - DAY\n\n{text}\n").get("props", [])


# ---------------------------------------------------------------------------------------------
# Cases from the audit of real screenplays (our own lines, in the shapes found there)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rest, set_, area, light, mods", [
    ("747 / FLYING - NIGHT", "747", None, "NIGHT", ["FLYING"]),              # a number is no clock time
    ("PEARSON, HARDMAN LAW FIRM - RECEPTION - DAY", "PEARSON, HARDMAN LAW FIRM", "RECEPTION", "DAY", []),
    ("BATHROOM - ORLA'S APARTMENT - NIGHT", "ORLA'S APARTMENT", "BATHROOM", "NIGHT", []),
    ("CABIN - ANOTHER AREA - NIGHT", "CABIN", "ANOTHER AREA", "NIGHT", []),   # no building after the room
    ("A.P. NEWSROOM (PARIS) - DAY", "A.P. NEWSROOM (PARIS)", None, "DAY", []),
])
def test_audit_headings(rest: str, set_: str, area: str | None, light: str, mods: list[str]) -> None:
    r = heading(rest)
    assert (r.set, r.area, r.light, r.modifiers) == (set_, area, light, mods)


def test_minutes_earlier_is_a_continuation_and_a_camera_direction_in_a_heading_is_a_shot() -> None:
    assert heading("LIVING ROOM - MINUTES EARLIER").continuation == "MINUTES EARLIER"
    sc = scenes("INT. HOSPITAL - ANGLE - SGT. MCCOBB - DAY\n\nHe salutes.\n")
    assert (sc[0]["set"], sc[0]["area"], sc[0]["light"]) == ("HOSPITAL", None, "DAY")
    assert sc[0]["elements"][0]["kind"] == "slug" and sc[0]["elements"][0]["text"] == "ANGLE - SGT. MCCOBB"


def test_one_person_across_honorifics_but_not_across_kin() -> None:
    text = ("INT. WARD - DAY\n\nDR. VOSS\nBreathe.\n\nVOSS\nAgain.\n\nVoss listens.\n\n"
            "MR. HALE\nHello.\n\nMRS. HALE\nHello, dear.\n")
    cast = [c["name"] for c in scenes(text)[0]["cast"]]
    assert cast == ["DR. VOSS", "MR. HALE", "MRS. HALE"]


def test_an_age_after_a_surname_makes_a_minor_and_a_later_age_rebases_it() -> None:
    text = ("INT. GARAGE - DAY\n\nTOMAS Reyes, 16, films everything.\n\nTOMAS\nRolling.\n\n"
            "INT. OFFICE - DAY - YEARS LATER\n\nTOMAS, now 30, films a wedding.\n")
    sc = scenes(text)
    assert [m["item"] for m in sc[0]["breakdown"]["minors"]] == ["TOMAS"]
    assert sc[1]["breakdown"]["minors"] == []


def test_a_possessive_or_quoted_name_puts_no_one_in_the_scene() -> None:
    text = ("INT. HALL - DAY\n\nNELL (40) waves.\n\nNELL\nBye.\n\nINT. ATTIC - DAY\n\n"
            "Nell's letters lie on the desk. A sign reads \"NELL WAS HERE\".\n\nINT. CELLAR - DAY\n\nNell's hands shake.\n")
    sc = scenes(text)
    assert sc[1]["cast"] == [] and [c["name"] for c in sc[2]["cast"]] == ["NELL"]


@pytest.mark.parametrize("cue, names, voice", [
    ("PA SYSTEM (FEMALE V.O.)", ["PA SYSTEM"], "vo"), ("AGENT (RADIO V.O.)", ["AGENT"], "device"),
    ("NELL (V.0.)", ["NELL"], "vo"), ("A MAN'S VOICE", ["A MAN'S VOICE"], "os"),
    ("STRIKER'S THOUGHTS", ["STRIKER"], "vo"),
])
def test_voices_word_by_word(cue: str, names: list[str], voice: str) -> None:
    el = next(e for e in scenes(f"INT. HALL - DAY\n\nFog.\n\n{cue}\nHello.\n")[0]["elements"] if e["kind"] == "character")
    assert (el["names"], el.get("voice")) == (names, voice)


def test_everyone_but_is_a_group() -> None:
    el = next(e for e in scenes("INT. HALL - DAY\n\nFog.\n\nEVERYONE BUT JEFF\nNo!\n")[0]["elements"]
              if e["kind"] == "character")
    assert el["names"] == [] and el["group"] == "all"


def test_cards_flashbacks_and_act_ends() -> None:
    text = ("INT. HALL - DAY\n\nFog.\n\nEND ACT ONE\n\nTITLES: ONE WEEK LATER\n\nINT. HALL - NIGHT\n\nRain.\n\n"
            "FLASHBACK TO:\n\nEXT. FIELD - DAY\n\nA kite.\n")
    sc = scenes(text)
    kinds = [(e["kind"], e["text"]) for e in sc[0]["elements"]]
    assert ("structure", "END ACT ONE") in kinds and ("card", "TITLES: ONE WEEK LATER") in kinds
    assert sc[1]["time_jump"] == "ONE WEEK LATER" and sc[2]["modifiers"] == ["FLASHBACK"]


def test_a_line_in_capitals_alone_is_a_shot_but_an_exclamation_is_not() -> None:
    el = scenes("EXT. HIGHWAY - DAY\n\nTrucks.\n\nTHE TRUCK.\n\nIt swerves.\n\nBOOM!\n")[0]["elements"]
    assert [(e["kind"], e.get("subject")) for e in el] == [
        ("action", None), ("slug", "THE TRUCK"), ("action", None), ("action", None)]


@pytest.mark.parametrize("text, category, never", [
    ("He moves like a zombie.", "makeup", "zombie"), ("She hangs up the phone.", "stunts", "hangs"),
    ("Riding shotgun, Kai laughs.", "weapons", "shotgun"), ("A sign: \"FREE PARKING\" is bolted on the wall.",
                                                             "props", "FREE PARKING"),
    ("The light is BLINKING.", "sound", "BLINKING"),
])
def test_audit_breakdown_false_positives(text: str, category: str, never: str) -> None:
    assert never not in breakdown_of(f"INT. HALL - DAY\n\n{text}\n").get(category, [])


def test_car_makes_are_vehicles_not_inserts() -> None:
    bd = breakdown_of("EXT. ROAD - DAY\n\nA battered MAZDA pulls up.\n")
    assert bd.get("vehicles") == ["MAZDA"] and "props" not in bd


def test_an_establishing_heading_takes_the_light_of_the_scene_it_opens() -> None:
    sc = scenes("INT. BAR - NIGHT\n\nDrinks.\n\nEXT. LOS ANGELES - ESTABLISHING\n\nINT. YOGA STUDIO - DAY\n\nMats.\n")
    assert [(s["light"], s["light_from"]) for s in sc] == [("NIGHT", "heading"), ("DAY", "next scene"),
                                                           ("DAY", "heading")]


def test_a_lone_camera_word_as_a_cue_is_a_slug() -> None:
    el = scenes("INT. CABIN - NIGHT\n\nFog.\n\nANGLE\nPassengers listen.\n")[0]["elements"]
    assert [e["kind"] for e in el] == ["action", "slug", "action"]


# ---------------------------------------------------------------------------------------------
# Real people (PS107 on engine 2.0.0): a sourced list, depiction not mention
# ---------------------------------------------------------------------------------------------

def ps107(text: str) -> list[str]:
    import test_v2_explain
    result = test_v2_explain.compile_v2("Title: x\n\n" + text)
    return [d["extra"]["match"] for d in result["diagnostics"] if d["code"] == "PS107"]


@pytest.mark.parametrize("line, match", [
    ("Abraham Lincoln walks in.", "Abraham Lincoln"), ("Gandhi sits by the loom.", "Gandhi"),
    ("Martin Luther King Jr. speaks to the crowd.", "Martin Luther King Jr."), ("MLK waves.", "MLK"),
    ("Napoleon surveys the field.", "Napoleon"), ("Taylor Swift sings.", "Taylor Swift"),
])
def test_real_people_shown_are_stopped(line: str, match: str) -> None:
    assert ps107(f"INT. HALL - DAY\n\n{line}\n") == [match]


@pytest.mark.parametrize("line", [
    "She drives a Lincoln.", "He looks like Einstein.", "A poster of Einstein hangs there.", "Trump waves.",
    "They meet at the Lincoln Memorial.", "Swift as a hare, she runs.", "A musk ox wanders past a cruise ship.",
    "He does a Donald Trump voice.", "EDWARD (V.O.) hums.",
])
def test_mentions_comparisons_and_words_are_not_people(line: str) -> None:
    assert ps107(f"INT. HALL - DAY\n\n{line}\n") == []


def test_a_name_spoken_in_dialogue_is_a_mention_and_a_story_place_is_its_own() -> None:
    assert ps107("INT. HALL - DAY\n\nNELL (40) reads.\n\nNELL\nAbraham Lincoln wrote this.\n") == []
    assert ps107("EXT. ASHTON - DAY\n\nThe town of Ashton sleeps.\n") == []


def test_a_real_person_as_a_character_is_stopped() -> None:
    assert "LINCOLN" in ps107("INT. DEBATE HALL - NIGHT\n\nThe crowd hushes.\n\nLINCOLN\nFourscore.\n")
    assert "Abraham Lincoln" in ps107("INT. DEBATE HALL - NIGHT\n\nAbraham Lincoln (in a top hat) climbs up.\n")


@pytest.mark.parametrize("line, match", [
    ("Einstein was a visiting professor here.", "Einstein"),
    ("It could be compared to the dancing of Gene Kelly, all glide.", None),
    ("Bart's brown Lincoln roars down the road.", None),
    ("The radio plays a song by Elvis Presley (which she hates).", "Elvis Presley"),
])
def test_a_reference_is_a_warning_not_a_stop(line: str, match: str | None) -> None:
    import test_v2_explain
    result = test_v2_explain.compile_v2("Title: x\n\nINT. HALL - DAY\n\n" + line + "\n")
    codes = [(d["code"], d["extra"]["match"]) for d in result["diagnostics"] if d["code"] in ("PS107", "PS119")]
    assert codes == ([("PS119", match)] if match else [])


def gate_codes(body: str, gates: tuple[str, ...] = ("PS101", "PS108", "PS120")) -> list[tuple[str, str]]:
    import test_v2_explain
    result = test_v2_explain.compile_v2("Title: x\n\nINT. HALL - DAY\n\n" + body + "\n")
    return [(d["code"], d["extra"]["match"].casefold()) for d in result["diagnostics"] if d["code"] in gates]


@pytest.mark.parametrize("body, expected", [
    # depicted: a stop
    ("They make love on the couch.", [("PS101", "make love")]),
    ("A stranger in a Batman costume waits.", [("PS108", "batman")]),
    ("A poster of Batman hangs over the bed.", [("PS108", "batman")]),
    # said or only referred to: a warning, no stop
    ("NELL (40) reads.\n\nNELL\nWe never make love anymore.", [("PS120", "make love")]),
    ("NELL (40) reads.\n\nNELL\nBatman would know.", [("PS120", "batman")]),
    ("He does his Batman voice for the kids.", [("PS120", "batman")]),
    ("They argue about the Batman movie.", [("PS120", "batman")]),
    # a phrase that only looks like a gate term
    ("NELL (40) reads.\n\nNELL\nHow do you make love last?", []),
])
def test_a_gate_term_depicted_stops_and_said_or_referred_to_warns(body: str, expected: list) -> None:
    assert gate_codes(body) == expected


def brand_codes(text: str) -> list[tuple[str, str, str]]:
    import test_v2_explain
    result = test_v2_explain.compile_v2("Title: x\n\n" + text)
    return [(d["code"], d["extra"]["match"], d["extra"].get("replacement") or d["extra"].get("reason", ""))
            for d in result["diagnostics"] if d["code"] in ("PS109", "PS121")]


def test_a_brand_before_its_time_is_flagged_not_rewritten() -> None:
    text = "EXT. DINER - DAY - 1962\n\nNELL (40) drinks a Coca-Cola and checks her iPhone.\n"
    assert brand_codes(text) == [("PS109", "Coca-Cola", "a soda"),   # "a Coca-Cola" is "a soda"
                                 ("PS121", "iPhone", "the story is set in 1962, before it existed (2007)")]


def test_a_card_states_the_year_and_later_scenes_keep_it() -> None:
    text = ("INT. LAB - NIGHT\n\nSUPER: LONDON, 1888\n\nRAY (30) waits.\n\n"
            "INT. ATTIC - NIGHT\n\nRAY checks his iPhone.\n\n"
            "INT. LAB - DAY - 2019\n\nRAY checks his iPhone.\n")
    assert [(c, m, r[:24]) for c, m, r in brand_codes(text)] == [
        ("PS121", "iPhone", "the story is set in 1888"), ("PS109", "iPhone", "smartphone")]


SAID = "it is only said, not shown: the line keeps the writer's words"


@pytest.mark.parametrize("line, expected", [
    ("Nell tells him to Google it.", [("PS121", "Google", "it is used as a verb")]),
    ("Google knows everything, the screen says.", [("PS109", "Google", "A search engine")]),
    ("NELL\nJust Google it.", [("PS121", "Google", SAID)]),          # only said: the line keeps its words
    ("NELL\nDelete Facebook and lawyer up.", [("PS121", "Facebook", SAID)]),
    ("A bloody iPhone rings.", [("PS109", "iPhone", "smartphone")]),  # "A bloody smartphone", no second article
    ("Krantz's iPhone buzzes.", [("PS109", "iPhone", "smartphone")]),
    ("She buys a new Tesla.", [("PS109", "Tesla", "electric car")]),
    ("A man with iPhone waits.", [("PS109", "iPhone", "a smartphone")]),
    ("A Boeing 757 lands.", [("PS109", "Boeing", "An airliner")]),         # the article agrees, the model goes
    ("He drives a Lamborghini Murciélago.", [("PS109", "Lamborghini", "a sports car")]),
    ("She rides a souped up Harley-Davidson.", [("PS109", "Harley-Davidson", "motorcycle")]),
    ("Hank sits at IHOP.", [("PS109", "IHOP", "a pancake house")]),
    ("A Tesla coil hums.", []),
    ("Matt builds a LEGO set.", [("PS109", "LEGO", "toy-brick")]),
    ("She laces her Nike shoes.", [("PS109", "Nike", "athletic")]),
    ("She looks down at her adidas.", [("PS109", "adidas", "sneakers")]),
    ("SUPER: 1500 MILES NORTH\n\nShe checks her iPhone.", [("PS109", "iPhone", "smartphone")]),
    ("SUPER: ROOM 1408\n\nShe checks her iPhone.", [("PS109", "iPhone", "smartphone")]),   # a room, no year
    ("SUPER: FLIGHT #1962\n\nShe checks her iPhone.", [("PS109", "iPhone", "smartphone")]),
    ("She builds a LEGO SET.", [("PS109", "LEGO", "TOY-BRICK")]),                  # a run of capitals: kept
    ("She got a job at Google.", [("PS121", "Google", "it names the company, not a product")]),
    ("The entrances to Facebook, Google and Tesla.", [("PS121", "Facebook", "it names the company, not a product"),
                                                      ("PS121", "Google", "it names the company, not a product"),
                                                      ("PS121", "Tesla", "it names the company, not a product")]),
    ("Google's headquarters gleam.", [("PS121", "Google", "it names the company, not a product")]),
    ("She searches on Google.", [("PS109", "Google", "a search engine")]),  # the product: rewritten
])
def test_brand_rewrites_stay_grammatical(line: str, expected: list) -> None:
    assert brand_codes("INT. HALL - DAY\n\nNELL (40) waits.\n\n" + line + "\n") == expected
