"""The Fountain parser, rule by rule (fountain.io 1.1 plus the choices documented in
``prodscale.core.fountain``). Fixtures are written here, small, one rule each."""

from __future__ import annotations

import orjson
import pytest

from prodscale.core.fountain import (
    PARSER_CODES,
    normalize_character,
    parse,
    parse_heading,
    strip_emphasis,
)
from prodscale.core.model import Element, Span, Story
from prodscale.errors import DecodeError


def _all(story: Story) -> list[Element]:
    out = list(story.prologue)
    for s in story.scenes:
        out.extend(s.elements)
    return out


def kinds(src: str, **kw: object) -> list[tuple[str, str]]:
    return [(e.kind, e.text) for e in _all(parse(src, **kw))]  # type: ignore[arg-type]


def codes(story: Story) -> list[str]:
    return [w.code for w in story.warnings]


# -- title page -----------------------------------------------------------------------------

def test_title_page_keys_in_order_with_multiline_values() -> None:
    story = parse("Title:\n    _**BIG FISH**_\n    Part two\nCredit: Written by\nAuthor: John August\n"
                  "Draft date: 1/1/2024\n\nINT. HOUSE - DAY\n\nHello.\n")
    assert [(f.key, f.value) for f in story.title_page] == [
        ("Title", "_**BIG FISH**_\nPart two"), ("Credit", "Written by"), ("Author", "John August"),
        ("Draft date", "1/1/2024")]
    assert story.title_page[0].span == Span(1, 1, 3, 13)
    assert story.title_page[3].span == Span(6, 1, 6, 21)
    assert [s.heading for s in story.scenes] == ["INT. HOUSE - DAY"]


def test_title_page_ends_at_first_non_key_line() -> None:
    story = parse("Title: X\nNot a key line.\nStill: text\n")
    assert [f.key for f in story.title_page] == ["Title"]
    assert kinds("Title: X\nNot a key line.\nStill: text\n") == [("action", "Not a key line.\nStill: text")]


def test_title_page_only_first_lines() -> None:
    assert parse("\nTitle: X\n").title_page == ()
    # fountain.io: "Key: value" on the first line is a title page, even when it reads like prose
    assert [(f.key, f.value) for f in parse("He says: hello there.\n").title_page] == [("He says", "hello there.")]
    # a long sentence with a colon is not a key
    assert parse("Steel enters the code on the keypad: 1234\n").title_page == ()


def test_bare_transition_first_line_is_not_a_title_page() -> None:
    story = parse("CUT TO:\n\nINT. HOUSE\n\nHi.\n")
    assert story.title_page == ()
    assert story.prologue[0].kind == "transition"


def test_title_page_only_warns() -> None:
    story = parse("Title: Lonely\nAuthor: Me\n")
    assert story.scenes == () and story.prologue == ()
    assert codes(story) == ["PS002"]
    assert story.warnings[0].span == Span(1, 1, 2, 11)


# -- scene headings -------------------------------------------------------------------------

@pytest.mark.parametrize("line,int_ext", [
    ("INT. HOUSE - DAY", "INT"), ("EXT. HOUSE - DAY", "EXT"), ("EST. CITY - DAY", "EST"),
    ("INT./EXT. CAR - DAY", "INT/EXT"), ("INT/EXT CAR - DAY", "INT/EXT"), ("I/E CAR - DAY", "INT/EXT"),
    ("I./E. CAR - DAY", "INT/EXT"), ("int. house - day", "INT"), ("EXT HOUSE - DAY", "EXT"),
    ("EXT./INT. CAR - DAY", "INT/EXT"),
])
def test_heading_prefixes(line: str, int_ext: str) -> None:
    story = parse(f"Before.\n\n{line}\n\nAfter.\n")
    assert len(story.scenes) == 1
    assert story.scenes[0].int_ext == int_ext
    assert story.scenes[0].heading == line


@pytest.mark.parametrize("line", ["INTERIOR HOUSE", "EXTRA LARGE", "ESTATE SALE", "INT", "I/EAT"])
def test_not_heading_prefixes(line: str) -> None:
    assert parse(f"Before.\n\n{line}\n\nAfter.\n").scenes == ()


def test_heading_parts() -> None:
    h = parse_heading("INT. JOHN'S APARTMENT - KITCHEN - night #12A#")
    assert h is not None
    assert (h.text, h.int_ext, h.location, h.time_of_day, h.number, h.forced) == (
        "INT. JOHN'S APARTMENT - KITCHEN - night", "INT", "JOHN'S APARTMENT - KITCHEN", "NIGHT", "12A", False)
    h = parse_heading("EXT. PARK--DAY")
    assert h is not None and (h.location, h.time_of_day) == ("PARK", "DAY")
    h = parse_heading("EXT. ROAD — CONTINUOUS")
    assert h is not None and (h.location, h.time_of_day) == ("ROAD", "CONTINUOUS")
    h = parse_heading("INT. X-RAY ROOM")
    assert h is not None and (h.location, h.time_of_day) == ("X-RAY ROOM", None)
    h = parse_heading("INT.")
    assert h is not None and (h.location, h.time_of_day, h.int_ext) == (None, None, "INT")
    assert parse_heading("Hello there") is None


def test_scene_numbers() -> None:
    story = parse("INT. A - DAY #1#\n\nx\n\nEXT. B #1A#\n\ny\n\nEST C #I-1-A.#\n\nz\n\nEST D #😆#\n\nw\n")
    assert [(s.heading, s.number) for s in story.scenes] == [
        ("INT. A - DAY", "1"), ("EXT. B", "1A"), ("EST C", "I-1-A."), ("EST D #😆#", None)]


def test_forced_heading_single_dot_only() -> None:
    story = parse(".SNIPER SCOPE POV\n\nHe aims.\n\n...and waits.\n\n. NOT A HEADING\n")
    assert [(s.heading, s.forced, s.int_ext, s.location) for s in story.scenes] == [
        ("SNIPER SCOPE POV", True, None, "SNIPER SCOPE POV")]
    assert kinds(".SNIPER\n\n...and waits.\n") == [("action", "...and waits.")]
    assert story.scenes[0].heading_span == Span(1, 1, 1, 18)


def test_forced_action_beats_heading() -> None:
    story = parse("!EXT. NOT A HEADING\n")
    assert story.scenes == ()
    assert [(e.kind, e.text, e.forced) for e in story.prologue] == [("action", "EXT. NOT A HEADING", True)]


def test_heading_needs_blank_line_before() -> None:
    story = parse("He runs.\nINT. HOUSE - DAY\n\nInside.\n")
    assert story.scenes == ()


def test_heading_without_blank_after_is_still_a_heading() -> None:
    story = parse("INT. HOUSE - DAY\nJOHN enters.\n")
    assert [s.heading for s in story.scenes] == ["INT. HOUSE - DAY"]
    assert [(e.kind, e.text) for e in story.scenes[0].elements] == [("action", "JOHN enters.")]
    assert story.characters == ()


def test_scene_spans_and_prologue() -> None:
    src = "FADE IN:\n\nA dark screen.\n\nINT. A - DAY\n\nOne.\n\n\nEXT. B - NIGHT\n\nJOHN\nTwo.\n\n"
    story = parse(src)
    assert [e.kind for e in story.prologue] == ["transition", "action"]
    a, b = story.scenes
    assert a.span == Span(5, 1, 7, 5) and a.heading_span == Span(5, 1, 5, 13)
    assert b.span == Span(10, 1, 13, 5)
    assert (b.location, b.time_of_day) == ("B", "NIGHT")


# -- action ---------------------------------------------------------------------------------

def test_action_keeps_line_breaks_and_indentation_tabs_become_four_spaces() -> None:
    src = "He reads:\n\n    Scott --\n\tRoom 412\n\nDone.\n"
    assert kinds(src) == [("action", "He reads:"), ("action", "    Scott --\n    Room 412"), ("action", "Done.")]
    story = parse(src)
    assert story.prologue[1].span == Span(3, 5, 4, 10)


def test_action_paragraph_span() -> None:
    story = parse("\n\nLine one\nline two.\n")
    assert story.prologue[0].span == Span(3, 1, 4, 10)


def test_forced_action_on_caps_line() -> None:
    assert kinds("!SCANNING THE AISLES\nWhere is he?\n") == [("action", "SCANNING THE AISLES\nWhere is he?")]


# -- characters and dialogue ----------------------------------------------------------------

def test_character_and_dialogue() -> None:
    story = parse("STEEL\nThe man's a myth!\n")
    (cue, line) = story.prologue
    assert (cue.kind, cue.text, cue.name, cue.extension) == ("character", "STEEL", "STEEL", None)
    assert (line.kind, line.text) == ("dialogue", "The man's a myth!")
    assert cue.span == Span(1, 1, 1, 6) and line.span == Span(2, 1, 2, 18)
    assert story.characters == ("STEEL",)


@pytest.mark.parametrize("cue,name,ext", [
    ("STEEL (V.O.)", "STEEL", "V.O."), ("STEEL (CONT'D)", "STEEL", None), ("STEEL (CONT’D)", "STEEL", None),
    ("STEEL (V.O.) (CONT'D)", "STEEL", "V.O."), ("HANS (on the radio)", "HANS", "on the radio"),
    ("MOM (O. S.)", "MOM", "O. S."), ("DR. BENNET", "DR. BENNET", None), ("R2D2", "R2D2", None),
    ("3CPO", "3CPO", None), ("JIM😆", "JIM😆", None), ("ИВАН (ЗК)", "ИВАН", "ЗК"),
])
def test_character_cues(cue: str, name: str, ext: str | None) -> None:
    story = parse(f"\n{cue}\nWords.\n")
    e = story.prologue[0]
    assert (e.kind, e.text, e.name, e.extension) == ("character", cue, name, ext)


@pytest.mark.parametrize("line", ["23", "McCLANE", "Han (O. S.)", "AND ^ (Dual)", "STEEL (V.O.) later", "太郎"])
def test_not_character_cues(line: str) -> None:
    assert [e.kind for e in parse(f"\n{line}\nWords.\n").prologue] == ["action"]


def test_cue_needs_dialogue_and_blank_before() -> None:
    assert kinds("BOB\n\nNo dialogue here.\n") == [("action", "BOB"), ("action", "No dialogue here.")]
    assert kinds("Some action.\nBOB\nMore action.\n") == [("action", "Some action.\nBOB\nMore action.")]


def test_forced_character_keeps_case_in_text_and_folds_name() -> None:
    story = parse("@McCLANE\nYippee ki-yay!\n\nMCCLANE\nAgain.\n")
    cues = [e for e in story.prologue if e.kind == "character"]
    assert [(c.text, c.name, c.forced) for c in cues] == [("McCLANE", "MCCLANE", True), ("MCCLANE", "MCCLANE", False)]
    assert story.characters == ("MCCLANE",)


def test_one_character_whatever_the_cue_spelling() -> None:
    story = parse("STEEL\nA.\n\nSTEEL (V.O.)\nB.\n\nSTEEL (CONT'D)\nC.\n\n  steel  \nD.\n\n@Steel\nE.\n")
    assert story.characters == ("STEEL",)


def test_normalize_character_rule() -> None:
    assert normalize_character("  @Straße  (V.O.)  ^ ") == ("STRASSE", "V.O.")
    assert normalize_character("BIG   JOHN (O.S.) (CONTINUED) (FILTERED)") == ("BIG JOHN", "O.S., FILTERED")
    assert normalize_character("(V.O.)") == ("(V.O.)", None)
    once = normalize_character("Ǆemal (V.O.)")[0]
    assert normalize_character(once) == (once, None)


def test_dialogue_two_space_line_keeps_speech_going() -> None:
    assert kinds("FISH\nI am\n  \na little fish.\n\nAction.\n") == [
        ("character", "FISH"), ("dialogue", "I am\n\na little fish."), ("action", "Action.")]


def test_dialogue_ends_at_blank_line() -> None:
    assert kinds("DEALER\nTen.\nFour.\n\nHit or stand?\n") == [
        ("character", "DEALER"), ("dialogue", "Ten.\nFour."), ("action", "Hit or stand?")]


def test_dialogue_indentation_is_ignored() -> None:
    assert kinds("\t\t\tFRED\n\tTest dialogue.\n") == [("character", "FRED"), ("dialogue", "Test dialogue.")]


def test_parentheticals() -> None:
    assert kinds("BOB\n(slowly)\nTrying this.\n  (loudly)\nAlso this?\n(quietly)\n(then)\nDone.\n") == [
        ("character", "BOB"), ("parenthetical", "(slowly)"), ("dialogue", "Trying this."),
        ("parenthetical", "(loudly)"), ("dialogue", "Also this?"), ("parenthetical", "(quietly)"),
        ("dialogue", "(then)\nDone.")]


def test_parenthetical_needs_a_speech() -> None:
    assert kinds("(Jack)\nKnife.\n") == [("action", "(Jack)\nKnife.")]


def test_dual_dialogue_marks_both_sides() -> None:
    story = parse("EXT. PATIO - DAY\n\nBRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.\n\nAction.\n")
    cues = [e for e in story.scenes[0].elements if e.kind == "character"]
    assert [(c.name, c.dual) for c in cues] == [("BRICK", True), ("STEEL", True)]
    assert cues[1].text == "STEEL"
    assert story.warnings == ()


def test_dual_dialogue_without_partner_warns() -> None:
    story = parse(".ROOF\n\nHe waits.\n\nSTEEL ^\nHello.\n")
    cue = story.scenes[0].elements[1]
    assert (cue.kind, cue.name, cue.dual) == ("character", "STEEL", False)
    assert codes(story) == ["PS006"] and story.warnings[0].span == Span(5, 1, 5, 8)


def test_lyrics_in_dialogue_and_alone() -> None:
    assert kinds("SINGER\n~Row, row\n~your boat\n\n~ Gently down\nThe crowd claps.\n") == [
        ("character", "SINGER"), ("lyrics", "Row, row\nyour boat"), ("lyrics", "Gently down"),
        ("action", "The crowd claps.")]


# -- transitions, centered, page breaks, sections, synopses ---------------------------------

def test_transitions() -> None:
    src = ("Action.\n\nCUT TO:\n\n    SMASH CUT TO:\n\n>fade to black\n\nboop boop TO:\n\nCUT TO:  \n\n"
           "FADE OUT.\n")
    assert kinds(src) == [("action", "Action."), ("transition", "CUT TO:"), ("transition", "SMASH CUT TO:"),
                          ("transition", "fade to black"), ("action", "boop boop TO:"), ("action", "CUT TO:  "),
                          ("transition", "FADE OUT.")]


def test_transition_needs_blank_lines_around() -> None:
    assert kinds("Action.\nCUT TO:\n\nMore.\n") == [("action", "Action.\nCUT TO:"), ("action", "More.")]


def test_centered() -> None:
    story = parse("> THE END <\n\n>**Act Two**<  \n>Part one<\n\n    > not a transition<\n")
    assert [(e.kind, e.text) for e in story.prologue] == [
        ("centered", "THE END"), ("centered", "**Act Two**\nPart one"), ("centered", "not a transition")]
    assert story.prologue[1].span == Span(3, 1, 4, 11)


def test_page_breaks() -> None:
    assert kinds("A.\n\n===\n   =====\n\nB.\n") == [("action", "A."), ("page_break", ""), ("page_break", ""),
                                                   ("action", "B.")]


def test_sections_and_synopses_are_kept() -> None:
    story = parse("# ACT I\n\n## Sequence\n= Set up the story.\n\nINT. PATIO - DAY\n\n= Scene synopsis.\n\nSun.\n")
    assert [(e.kind, e.text, e.level) for e in story.prologue] == [
        ("section", "ACT I", 1), ("section", "Sequence", 2), ("synopsis", "Set up the story.", None)]
    assert [(e.kind, e.text) for e in story.scenes[0].elements] == [("synopsis", "Scene synopsis."), ("action", "Sun.")]


def test_page_break_interrupts_speech() -> None:
    assert kinds("JOHN\nHello.\n===\nBye.\n") == [("character", "JOHN"), ("dialogue", "Hello."),
                                                 ("page_break", ""), ("action", "Bye.")]


# -- notes ----------------------------------------------------------------------------------

def test_inline_note_becomes_its_own_element() -> None:
    story = parse("INT. HOUSE - DAY\n\nJACK[[real name?]] counts money.\n")
    action, note = story.scenes[0].elements
    assert (action.kind, action.text) == ("action", "JACK counts money.")
    assert action.span == Span(3, 1, 3, 33)
    assert (note.kind, note.text, note.span) == ("note", "real name?", Span(3, 5, 3, 19))


def test_standalone_note_and_note_between_cue_and_dialogue() -> None:
    story = parse("[[prodscale: allow PS203 the knife is a prop]]\nJOHN\n[[louder]]\nHello.\n")
    assert [(e.kind, e.text) for e in story.prologue] == [
        ("note", "prodscale: allow PS203 the knife is a prop"), ("character", "JOHN"), ("note", "louder"),
        ("dialogue", "Hello.")]
    assert story.prologue[3].span == Span(4, 1, 4, 7)


def test_multiline_note_with_two_space_line() -> None:
    story = parse("He waits.[[Needs work.\nMore coffee.\n  \nDefinitely.]] He looks around.\n")
    assert [(e.kind, e.text) for e in story.prologue] == [
        ("action", "He waits.\n He looks around."), ("note", "Needs work.\nMore coffee.\n  \nDefinitely.")]
    assert story.prologue[0].span == Span(1, 1, 4, 31)
    assert story.prologue[1].span == Span(1, 10, 4, 14)


def test_unclosed_note_warns_and_stays_text() -> None:
    story = parse("He waits [[this\n\nnever closes.\n")
    assert [(e.kind, e.text) for e in story.prologue] == [("action", "He waits [[this"), ("action", "never closes.")]
    assert codes(story) == ["PS003", "PS004"]  # ordered by position: PS003 points at the first element
    assert story.warnings[1].span == Span(1, 10, 1, 12)


def test_note_in_heading_line() -> None:
    story = parse("INT. HOUSE - DAY [[check location]]\n\nIn.\n")
    scene = story.scenes[0]
    assert (scene.heading, scene.time_of_day) == ("INT. HOUSE - DAY", "DAY")
    assert [e.kind for e in scene.elements] == ["note", "action"]


# -- boneyard -------------------------------------------------------------------------------

def test_boneyard_is_dropped_and_lines_keep_their_numbers() -> None:
    src = "CUT TO:\n/*\nINT. GARAGE - DAY\n\nOld scene.\n*/\nEXT. MANSION - DAY\n\nA man /* not this */drinks.\n"
    story = parse(src)
    assert [e.kind for e in story.prologue] == ["transition"]
    assert [s.heading for s in story.scenes] == ["EXT. MANSION - DAY"]
    assert story.scenes[0].heading_span == Span(7, 1, 7, 19)
    action = story.scenes[0].elements[0]
    assert (action.text, action.span) == ("A man drinks.", Span(9, 1, 9, 28))
    assert "Old scene" not in orjson.dumps(story.to_dict()).decode().replace(story.text, "")


def test_boneyard_hides_notes() -> None:
    story = parse("A.\n/* [[hidden note]] */\nB.\n")
    assert [e.kind for e in story.prologue] == ["action", "action"]


def test_unclosed_boneyard_warns_and_keeps_text() -> None:
    story = parse("He leaves.\n\n/*\nINT. OLD - DAY\n\nOld.\n")
    assert "PS005" in codes(story)
    w = next(w for w in story.warnings if w.code == "PS005")
    assert w.span == Span(3, 1, 3, 3)
    assert [e.text for e in story.prologue][:2] == ["He leaves.", "/*\nINT. OLD - DAY"]


# -- emphasis -------------------------------------------------------------------------------

def test_emphasis_kept_in_text_stripped_for_prompts() -> None:
    story = parse("He is *very* **late** for _the_ ***show***.\n")
    assert story.prologue[0].text == "He is *very* **late** for _the_ ***show***."
    assert strip_emphasis(story.prologue[0].text) == "He is very late for the show."


@pytest.mark.parametrize("raw,plain", [
    ("*69 and then *23", "*69 and then *23"), ("*69 and then 23*", "69 and then 23"),
    ("_a _", "_a _"), ("**\\*9765\\***", "*9765*"), ("_Steel's *Mark 4* scope_", "Steel's Mark 4 scope"),
    ("*share a look.\n\nBAD.*", "*share a look.\n\nBAD.*"), ("a \\\\ b", "a \\ b"), ("no markup", "no markup"),
])
def test_strip_emphasis(raw: str, plain: str) -> None:
    assert strip_emphasis(raw) == plain


# -- languages and prefixes -----------------------------------------------------------------

RUSSIAN = "ИНТ. КВАРТИРА - ДЕНЬ\n\nАнна читает.\n\nНАТ. УЛИЦА - НОЧЬ\n\nИдёт снег.\n"


def test_foreign_headings_are_not_headings_by_default_and_the_warning_says_how() -> None:
    story = parse(RUSSIAN)
    assert story.scenes == ()
    assert codes(story) == ["PS003"]
    w = story.warnings[0]
    assert "heading_prefixes" in (w.help or "") and "[project]" in (w.help or "") and "prodscale.toml" in (w.help or "")
    assert w.extra["suggested_prefixes"] == ["ИНТ", "НАТ"]
    assert w.span == Span(1, 1, 1, 21)


def test_declared_prefixes_make_headings() -> None:
    story = parse(RUSSIAN, heading_prefixes=["ИНТ", "НАТ"])
    assert [(s.int_ext, s.location, s.time_of_day) for s in story.scenes] == [
        ("INT", "КВАРТИРА", "ДЕНЬ"), ("EXT", "УЛИЦА", "НОЧЬ")]
    assert story.warnings == ()


def test_single_prefix_string_is_one_prefix() -> None:
    assert len(parse(RUSSIAN, heading_prefixes="ИНТ").scenes) == 1


def test_cjk_full_stop_prefix() -> None:
    src = "INT。部屋 - 夜\n\n太郎が座る。\n"
    assert parse(src).scenes == ()
    story = parse(src, heading_prefixes=["INT"])
    assert [(s.int_ext, s.location, s.time_of_day) for s in story.scenes] == [("INT", "部屋", "夜")]
    assert parse(src, heading_prefixes=["INT。"]).scenes[0].location == "部屋"


# -- whole-file behaviour -------------------------------------------------------------------

def test_empty_file_warns() -> None:
    for src in ("", "\n\n  \n"):
        story = parse(src)
        assert (story.title_page, story.prologue, story.scenes) == ((), (), ())
        assert codes(story) == ["PS001"]


def test_bytes_and_text_give_the_same_story() -> None:
    src = "Title: X\n\nINT. CAFÉ - DAY\n\nJOSÉ\nHola.\n"
    assert parse(src.encode()) == parse(src)
    crlf_bom_nfd = b"\xef\xbb\xbf" + src.replace("\n", "\r\n").replace("É", "E\u0301").encode()
    assert parse(crlf_bom_nfd) == parse(src)


def test_decode_error_is_the_only_error() -> None:
    with pytest.raises(DecodeError) as info:
        parse(b"INT. HOUSE\n\n\xc3(", path="x.fountain")
    assert (info.value.line, info.value.column, info.value.path) == (3, 1, "x.fountain")


def test_json_shape() -> None:
    story = parse("Title: T\n\nINT. A - DAY #3#\n\nBOB\nHi.\n")
    d = orjson.loads(orjson.dumps(story.to_dict(), option=orjson.OPT_SORT_KEYS))
    assert set(d) >= {"title_page", "prologue", "scenes", "characters", "warnings"}
    assert d["title_page"] == {"Title": "T"}
    scene = d["scenes"][0]
    assert {k: scene[k] for k in ("heading", "number", "int_ext", "location", "time_of_day")} == {
        "heading": "INT. A - DAY", "number": "3", "int_ext": "INT", "location": "A", "time_of_day": "DAY"}
    assert scene["span"] == {"start_line": 3, "start_col": 1, "end_line": 6, "end_col": 4}
    assert [e["kind"] for e in scene["elements"]] == ["character", "dialogue"]
    assert d["characters"] == ["BOB"]


def test_parser_codes_are_documented() -> None:
    used = {"PS001", "PS002", "PS003", "PS004", "PS005", "PS006"}
    assert set(PARSER_CODES) == used
    for code, doc in PARSER_CODES.items():
        assert set(doc) == {"name", "summary", "explain", "example"}
        assert len(doc["explain"]) > 80
        if code == "PS001":
            assert doc["example"] == ""
        # each example really produces its code
        assert code in codes(parse(doc["example"])), code


def test_deterministic() -> None:
    src = "INT. A - DAY\n\nBOB\nHi.[[n]]\n\nALICE ^\nYo.\n"
    assert orjson.dumps(parse(src).to_dict()) == orjson.dumps(parse(src).to_dict())
