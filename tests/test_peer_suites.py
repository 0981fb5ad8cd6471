"""Other Fountain parsers' test suites, run against prodscale's parser through small adapters.

The suites live in ``../shared/peer-suites`` (read at test time, never copied into the project) and
the tests skip when that folder is absent. Each adapter turns the peer's expected output and our
:class:`Story` into the same plain sequence of ``(kind, text, ...)`` tuples. Representation choices
that are not behaviour are normalized on both sides and named here:

- prodscale emits one ACTION per paragraph; the peers merge action across blank lines (and
  Jouvence emits empty actions for extra blank lines). Both sides are compared as the list of
  action paragraphs (maximal runs of non-blank lines), so paragraph text, line breaks and
  indentation are still compared exactly.
- screenplay-tools' "unmerged" dumps give one entry per line; consecutive entries are joined.
- screenplay-tools strips the parentheses of parentheticals and keeps spaces inside ``> <``;
  Jouvence writes centered text as action ``"><text"``; title page values are compared with the
  indentation of continuation lines removed (prodscale's documented form).

Where a peer departs from the fountain.io spec (or the case depends on a choice prodscale made
differently and documented in ``prodscale.core.fountain``), the case is a listed deviation with
its reason. A listed deviation must really differ: a stale entry fails the suite.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from prodscale.core.fountain import HTML_MARKERS, parse, render_emphasis
from prodscale.core.model import Story

PEERS = Path(__file__).resolve().parents[2] / "shared" / "peer-suites"
JOUVENCE = PEERS / "jouvence"
SPT = PEERS / "screenplay-tools"

pytestmark = pytest.mark.skipif(not PEERS.is_dir(), reason=f"peer suites not present at {PEERS}")

# case id -> reason the peer's expectation is not ours
DEVIATIONS: dict[str, str] = {
    "jouvence/test_boneyard.yaml#2": (
        "a line holding only boneyard reads as a blank line in prodscale (so boneyarding a scene between a "
        "transition and the next heading keeps both); Jouvence deletes such lines and joins the action around them"),
    "jouvence/test_lyrics.yaml#2": (
        "fountain.io: every line starting with ~ is a lyric; Jouvence reads a ~ line followed by a plain line "
        "as one action"),
    "screenplay-tools/Boneyards": (
        "same boneyard rule: prodscale reads 'CUT TO:' followed by a boneyard-only line as a transition; "
        "screenplay-tools keeps it in the action (yet still starts the heading right after the boneyard)"),
    "screenplay-tools/Character": (
        "fountain.io: a cue needs one letter ('R2D2' works); screenplay-tools refuses cues starting with a digit "
        "('3CPO')"),
    "screenplay-tools/Notes": (
        "fountain.io: a note cannot span an empty line, so the last [[ is unclosed text (PS004); screenplay-tools "
        "closes it at the empty line and also runs JACK's dialogue on across a blank line into the next action"),
    "screenplay-tools/Sections": (
        "a first line 'CUT TO:' with no value and no indented continuation does not start a title page in "
        "prodscale (it is a transition, as Jouvence reads it); screenplay-tools makes it a title field 'CUT TO'"),
    "screenplay-tools/Tags": "screenplay-tools' own '#tag' extension, not Fountain",
    "screenplay-tools/Formatted#2": (
        "fountain.io nests emphasis (*Leupold Mark 4* is italic inside the underline); screenplay-tools leaves "
        "the inner markers as text"),
}


# --------------------------------------------------------------------------------------------
# shared normalization
# --------------------------------------------------------------------------------------------

def _paragraphs(text: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line)
        elif current:
            out.append("\n".join(current))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def _stream(story: Story) -> list[Any]:
    """Our story as one flat list: headings are elements here, notes are left out (peers inline them)."""
    out: list[Any] = []
    out.extend(story.prologue)
    for scene in story.scenes:
        out.append(scene)
        out.extend(scene.elements)
    return [x for x in out if getattr(x, "kind", None) != "note"]


def _ours(story: Story, *, jouvence: bool = False) -> list[tuple[Any, ...]]:
    """Our story in the comparison form; Jouvence reports cues as written and sections without level."""
    seq: list[tuple[Any, ...]] = []
    pending_left = False
    for x in _stream(story):
        kind = getattr(x, "kind", "heading")
        if kind == "heading":
            seq.append(("heading", x.heading, x.number))
        elif kind == "action":
            seq.extend(("action", p) for p in _paragraphs(x.text))
        elif kind == "character" and jouvence:
            seq.append(("character_cue", x.text))
        elif kind == "section" and jouvence:
            seq.append(("section", x.text))
        elif kind == "character":
            # the peers mark only the right side (the cue that carried ^); ours marks both sides
            right = x.dual and pending_left
            pending_left = x.dual and not right
            seq.append(("character", x.name, x.extension, right))
        elif kind == "page_break":
            seq.append(("page_break",))
        elif kind == "lyrics":  # the peers give one entry per lyric line; ours joins consecutive lines
            seq.extend(("lyrics", line) for line in x.text.split("\n"))
        elif kind == "section":
            seq.append(("section", x.text, x.level))
        else:
            seq.append((kind, x.text))
    return seq


# --------------------------------------------------------------------------------------------
# Jouvence
# --------------------------------------------------------------------------------------------

_J_KINDS = {".": "heading", "!": "action", "@": "character", "=": "dialogue", "_": "parenthetical",
            ">": "transition", "#": "section", "+": "synopsis", "~": "lyrics"}


def _jouvence_cases() -> list[Any]:
    if not JOUVENCE.is_dir():
        return []
    yaml = pytest.importorskip("yaml")
    cases = []
    for f in sorted(JOUVENCE.glob("test_*.yaml")):
        for n, doc in enumerate(yaml.safe_load_all(f.read_text(encoding="utf-8")), start=1):
            if doc:
                cases.append(pytest.param(doc, id=f"jouvence/{f.name}#{n}"))
    return cases


def _jouvence_expected(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    seq: list[tuple[Any, ...]] = []
    for item in doc.get("out") or []:
        if item == "<pagebreak>":
            seq.append(("page_break",))
            continue
        kind, text = _J_KINDS[item[0]], item[1:]
        if kind == "action":
            for p in _paragraphs(text):
                seq.append(("centered", p[2:]) if p.startswith("><") else ("action", p))
        elif kind == "heading":
            seq.append(("heading", text, None))
        elif kind == "character":
            seq.append(("character_cue", text))
        elif kind == "section":
            seq.append(("section", text))
        else:
            seq.append((kind, text))
    return seq


def _jouvence_compare(doc: dict[str, Any]) -> tuple[bool, str]:
    story = parse(doc["in"])
    want = _jouvence_expected(doc)
    got = _ours(story, jouvence=True)
    want_title = {str(k).casefold(): str(v) for k, v in (doc.get("title") or {}).items()}
    got_title = {f.key.casefold(): f.value for f in story.title_page}
    ok = want == got and ("title" not in doc or want_title == got_title)
    return ok, f"want {want} {want_title}\n got {got} {got_title}"


# --------------------------------------------------------------------------------------------
# screenplay-tools
# --------------------------------------------------------------------------------------------

_SPT_ENTRY = re.compile(r'^(?:\[\[\d+\]\]|/\*\d+\*/)?([A-Z]+):"(.*?)"([^\n]*)(?=\n(?:\[\[\d+\]\]|/\*\d+\*/)?[A-Z]+:"|\Z)',
                        re.MULTILINE | re.DOTALL)


def _spt_entries(dump: str) -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in _SPT_ENTRY.finditer(dump.strip())]


def _spt_expected(dump: str) -> tuple[list[tuple[Any, ...]], dict[str, str]]:
    seq: list[tuple[Any, ...]] = []
    title: dict[str, str] = {}
    merged: list[list[str]] = []
    for kind, body, rest in _spt_entries(dump):
        key = kind + ("/centered" if "(centered)" in rest else "")
        if merged and merged[-1][0] == key and kind in ("ACTION", "DIALOGUE") and "(centered)" not in rest:
            merged[-1][1] += "\n" + body
        else:
            merged.append([key, body, rest])
    for key, body, rest in merged:
        kind = key.split("/")[0]
        if kind == "TITLEENTRY":  # TITLEENTRY:"key":"value": the entry pattern split it at the first quote
            k, _, v = (body + '"' + rest).partition('":"')
            v = v.removesuffix('"')
            title[k] = "\n".join(line.strip() for line in v.split("\n") if line.strip())
        elif key == "ACTION/centered":
            seq.append(("centered", body.strip()))
        elif kind == "ACTION":
            seq.extend(("action", p) for p in _paragraphs(body))
        elif kind == "HEADING":
            m = re.search(r"\(([^()]*)\)", rest)
            seq.append(("heading", body, m.group(1) if m else None))
        elif kind == "CHARACTER":
            m = re.match(r'\s*"\(([^"]*)\)"', rest)
            ext = m.group(1) if m else None
            seq.append(("character", body.casefold().upper(), ext, "(Dual)" in rest.replace('"(Dual)"', "")))
        elif kind == "PARENTHETICAL":
            seq.append(("parenthetical", f"({body})"))
        elif kind == "PAGEBREAK":
            seq.append(("page_break",))
        elif kind == "SECTION":
            m = re.search(r"\((\d+)\)", rest)
            seq.append(("section", body, int(m.group(1)) if m else None))
        elif kind == "LYRIC":
            seq.append(("lyrics", body))
        else:
            seq.append((kind.lower(), body))
    return seq, title


def _spt_cases() -> list[Any]:
    if not SPT.is_dir():
        return []
    cases = []
    for txt in sorted(SPT.glob("*.txt")):
        stem = txt.stem
        base = re.sub(r"-(Merged|Unmerged)$", "", stem)
        src = SPT / f"{base}.fountain"
        if not src.is_file():
            continue  # not a pair (e.g. a dump of several files)
        if base == "Formatted":
            continue  # compared paragraph by paragraph below
        cases.append(pytest.param(src, txt, id=f"screenplay-tools/{stem}"))
    return cases


def _spt_compare(src: Path, txt: Path) -> tuple[bool, str]:
    story = parse(src.read_bytes(), path=src.name)
    want, want_title = _spt_expected(txt.read_text(encoding="utf-8"))
    got = [t for t in _ours(story) if t[0] != "note"]
    got_title = {f.key: f.value for f in story.title_page}
    return (want == got and want_title == got_title), f"want {want} {want_title}\n got {got} {got_title}"


def _formatted_cases() -> list[Any]:
    src, txt = SPT / "Formatted.fountain", SPT / "Formatted.txt"
    if not (src.is_file() and txt.is_file()):
        return []
    ins = src.read_text(encoding="utf-8").split("\n\n")
    outs = txt.read_text(encoding="utf-8").split("\n\n")
    assert len(ins) == len(outs)
    return [pytest.param(a, b, id=f"screenplay-tools/Formatted#{n}") for n, (a, b) in enumerate(zip(ins, outs, strict=True), 1)]


def _formatted_compare(src: str, html: str) -> tuple[bool, str]:
    story = parse(src)
    got = "\n\n".join(render_emphasis(e.text, HTML_MARKERS) for e in story.prologue)
    return got == html, f"want {html!r}\n got {got!r}"


# --------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------

def _check(case_id: str, result: tuple[bool, str]) -> None:
    ok, detail = result
    if case_id in DEVIATIONS:
        assert not ok, f"{case_id} is listed as a deviation but now matches the peer: remove it from DEVIATIONS"
        pytest.skip(f"listed deviation: {DEVIATIONS[case_id]}")
    assert ok, detail


@pytest.mark.parametrize("doc", _jouvence_cases())
def test_jouvence_case(doc: dict[str, Any], request: pytest.FixtureRequest) -> None:
    _check(request.node.callspec.id, _jouvence_compare(doc))


@pytest.mark.parametrize(("src", "txt"), _spt_cases())
def test_screenplay_tools_pair(src: Path, txt: Path, request: pytest.FixtureRequest) -> None:
    _check(request.node.callspec.id, _spt_compare(src, txt))


@pytest.mark.parametrize(("src", "html"), _formatted_cases())
def test_screenplay_tools_emphasis(src: str, html: str, request: pytest.FixtureRequest) -> None:
    _check(request.node.callspec.id, _formatted_compare(src, html))


def test_peer_suite_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs every case once more and prints the figure (visible with ``pytest -s``)."""
    results: dict[str, bool] = {}
    for p in _jouvence_cases():
        results[p.id] = _jouvence_compare(*p.values)[0]
    for p in _spt_cases():
        results[p.id] = _spt_compare(*p.values)[0]
    for p in _formatted_cases():
        results[p.id] = _formatted_compare(*p.values)[0]
    passed = sum(results.values())
    listed = [k for k in results if k in DEVIATIONS]
    unknown = sorted(set(DEVIATIONS) - set(results))
    assert not unknown, f"deviations naming no case: {unknown}"
    failing = sorted(k for k, ok in results.items() if not ok and k not in DEVIATIONS)
    assert not failing, f"unlisted failures: {failing}"
    assert passed + len(listed) == len(results)
    with capsys.disabled():
        print(f"\npeer suites: {passed}/{len(results)} passed, {len(listed)} listed deviations "
              f"(jouvence {sum(v for k, v in results.items() if k.startswith('jouvence'))}/"
              f"{sum(1 for k in results if k.startswith('jouvence'))}, screenplay-tools "
              f"{sum(v for k, v in results.items() if k.startswith('screenplay'))}/"
              f"{sum(1 for k in results if k.startswith('screenplay'))})")
