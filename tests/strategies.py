"""Hypothesis strategies for screenplays: shared by the parser's property tests and any test that
needs plausible (or hostile) Fountain input."""

from __future__ import annotations

from hypothesis import strategies as st

# Fragments that exercise every Fountain rule and its edges: prefixes, forcing characters, cues
# with extensions and ^, parentheticals, transitions, centered text, page breaks, sections,
# synopses, lyrics, note and boneyard openers and closers, emphasis and escapes, whitespace-only
# lines (two spaces), tabs, and text the normalizer changes (combining marks, a stray BOM).
FRAGMENTS = (
    "INT. HOUSE - DAY", "EXT. ROAD -- NIGHT #12A#", "INT./EXT. CAR - CONTINUOUS", "I/E VAN", "EST CITY",
    ".FORCED HEADING", "...ellipsis", ". not a heading", "!FORCED ACTION", "!EXT. ACTION",
    "JOHN", "MARY (V.O.)", "STEEL (CONT'D)", "BOB ^", "@McCLANE", "@Han (O.S.) ^", "R2D2", "23", "太郎",
    "(beat)", "(quietly)", "Hello there.", "He runs *fast* and **far**.", "_underlined_ \\*star\\*",
    "CUT TO:", "FADE OUT.", "> FORCED TRANSITION", "> THE END <", ">centered<", "===", "   =====",
    "# ACT I", "### Scene", "= A synopsis.", "~ la la la", "~", "[[", "]]", "[[a note]]", "[[open",
    "close]]", "/*", "*/", "/* bone */", "Title: Test", "Author: Me", "Draft date: today", "    indented",
    "\tTabbed", "  ", " ", "", "", "", "ИНТ. КВАРТИРА - ДЕНЬ", "INT。部屋", "Cafe\u0301 au lait", "Straße",
    "\ufeffBOM inside", "^", "@", ".", "!", "#", "=", ">", "<", "(", ")", "(unclosed", "*", "_", "\\",
)

fragment = st.sampled_from(FRAGMENTS)
noise = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=12)
line = st.one_of(fragment, fragment, fragment, st.builds(lambda a, b: a + b, fragment, noise), noise)

#: Screenplay-like text without carriage returns (so line-ending variants can be built from it).
screenplays = st.lists(line, max_size=40).map("\n".join)

#: Any text at all, including carriage returns, NULs and lone combining marks.
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
