"""Differential test: prodscale, screenplain and Jouvence read every corpus script the same way.

For each script of ``../shared/corpus`` (skipped when absent): the same scene headings in the same
order and the same set of characters, once every parser's cue goes through prodscale's one
normalization rule (:func:`normalize_character`). Known differences are listed with their reason;
a listed difference that no longer occurs fails, so the list stays true.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from prodscale.core.fountain import normalize_character, parse

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SCRIPTS = sorted(CORPUS.glob("*/*.fountain")) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(not SCRIPTS, reason=f"screenplay corpus not present at {CORPUS}")

# (script name, peer, what differs) -> reason
KNOWN: dict[tuple[str, str, str], str] = {
    ("Cyber_Bob_ep00001.fountain", "screenplain", "characters"): (
        "screenplain reads 'CYBER BOSS, 40 (or any age), an ageless,' (lowercase words after the parentheses) "
        "as a cue; fountain.io wants a cue entirely in uppercase apart from its extension, so it is action"),
}

_NUMBER = re.compile(r"\s*#[0-9A-Za-z.\-]+#\s*$")


def _ours(text: str) -> tuple[list[str], set[str]]:
    story = parse(text)
    return [s.heading for s in story.scenes], set(story.characters)


def _screenplain(text: str) -> tuple[list[str], set[str]]:
    sf = pytest.importorskip("screenplain.parsers.fountain")
    ty = pytest.importorskip("screenplain.types")
    headings: list[str] = []
    names: set[str] = set()
    for p in sf.parse(io.StringIO(text)):
        if isinstance(p, ty.Slug):
            headings.append(str(p.line))
        elif isinstance(p, ty.Dialog):
            names.add(normalize_character(str(p.character))[0])
        elif isinstance(p, ty.DualDialog):
            names.add(normalize_character(str(p.left.character))[0])
            names.add(normalize_character(str(p.right.character))[0])
    return headings, names


def _jouvence(text: str) -> tuple[list[str], set[str]]:
    jp = pytest.importorskip("jouvence.parser")
    jd = pytest.importorskip("jouvence.document")
    doc = jp.JouvenceParser().parseString(text)
    # Jouvence keeps "#n#" scene numbers in the heading text; ours are a separate field
    headings = [_NUMBER.sub("", sc.header).strip() for sc in doc.scenes if sc.header is not None]
    names = {normalize_character(p.text)[0] for sc in doc.scenes for p in sc.paragraphs
             if p.type == jd.TYPE_CHARACTER}
    return headings, names


PEERS = {"screenplain": _screenplain, "jouvence": _jouvence}


@pytest.mark.parametrize("peer", sorted(PEERS))
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_same_reading_as_peer(script: Path, peer: str) -> None:
    ours_story = parse(script.read_bytes(), path=script.name)
    text = ours_story.text  # the peers read the same normalized text
    ours_h, ours_c = _ours(text)
    theirs_h, theirs_c = PEERS[peer](text)
    for what, same, detail in (
        ("headings", ours_h == theirs_h, f"ours {ours_h}\ntheirs {theirs_h}"),
        ("characters", ours_c == theirs_c,
         f"only ours {sorted(ours_c - theirs_c)}, only theirs {sorted(theirs_c - ours_c)}"),
    ):
        key = (script.name, peer, what)
        if key in KNOWN:
            assert not same, f"{key} is listed as a known difference but now agrees: remove it"
        else:
            assert same, f"{script.name}: {what} differ from {peer}: {detail}"
    assert len(ours_h) == len(ours_story.scenes)


def test_known_differences_name_real_scripts() -> None:
    names = {p.name for p in SCRIPTS}
    assert {k[0] for k in KNOWN} <= names
    assert {k[1] for k in KNOWN} <= set(PEERS)
