"""Engine 2.0.0: a parsed screenplay read the way a crew reads it.

The spec-level tokenizer (:mod:`prodscale.core.fountain`, shared by every engine and frozen) says
what each line *is* in Fountain terms. This module decides what it *means* on a set, with the
vocabulary of ``rules/2.0.0/reading.toml``:

- **Scenes** are INT/EXT headings (and forced headings that name a place and a light). Every other
  forced heading (``.SCOTT``, ``.SNIPER SCOPE POV``, ``.BACK IN THE APARTMENT``) is a **secondary
  slug**: a shot within the current scene, which keeps its set and its light. So is an action
  paragraph whose first line is a slug in capitals (``ANGLE ON``, ``INSERT -``, ``CLOSE ON``, ...)
  and a cue that is really a slug (``BACK TO STRIKER``: PS011). A slug before any scene opens the
  prologue.
- **Headings** are read by :mod:`prodscale.core.v2_0.headings`; a continuation (CONTINUOUS, LATER,
  ...) takes the light of the scene it continues.
- **Structure**: act and part labels (``TEASER``, ``ACT ONE``, ``END OF ACT``) are structure with no
  shots; ``FADE IN:`` and the other transitions are transitions wherever they stand, trailing
  spaces or not; a title card (``SUPER``, centered text, an epigraph before the first scene) is a
  card. Action before the first heading is a prologue that compiles (PS416 says where it is).
- **INTERCUT**: a marker makes the scene an intercut of its place and the one it cuts with, and
  says which speaker is where.
- **Cues**: joint cues (``TROY / ABED``, ``EDWARD AND WILL``, ``BOTH``) are several characters; the
  extension tells voice over (narration, heard over the picture), off screen (in the scene, off
  frame) and a device (a phone: heard, the speaker elsewhere) apart.
- **Numbering**: a scene's number is its script number (``#12A#``) or its position among the
  scenes (the prologue is scene 0), the same in every output and diagnostic.

The cast and breakdown elements of each scene come from :mod:`prodscale.core.v2_0.cast`.
Pure: no file, clock or environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from prodscale.core.fountain_inline import match_prefix, strip_emphasis
from prodscale.core.model import ACTION, CENTERED, CHARACTER, DIALOGUE, NOTE, PARENTHETICAL, TRANSITION, Element, Story
from prodscale.core.scenes import SceneUnit
from prodscale.core.stages._text import per_rule_data
from prodscale.core.v2_0.headings import HeadingReading, norm, read_heading, same_site

SLUG = "slug"
STRUCTURE = "structure"
CARD = "card"
_FILMABLE = {ACTION, CHARACTER, DIALOGUE, SLUG, CENTERED, CARD, "lyrics"}
_LOWER = re.compile(r"[a-zß-ÿ]")


@dataclass(frozen=True, eq=False)
class Lexicon:
    """``reading.toml`` compiled once per rule data."""

    slug_starts: tuple[str, ...]          # longest first
    slug_contains: tuple[str, ...]
    framing: tuple[tuple[str, str, str], ...]   # (phrase, size, angle)
    labels: frozenset[str]
    label_re: re.Pattern[str]
    cards: frozenset[str]
    transitions: frozenset[str]
    openers: frozenset[str]
    intercut: tuple[str, ...]
    joiners: re.Pattern[str]
    everyone: frozenset[str]
    both: frozenset[str]
    voice_over: frozenset[str]
    off_screen: frozenset[str]
    device: frozenset[str]
    voice_names: tuple[str, ...]
    flashback: dict[str, str]
    data: dict[str, Any]                  # the rule data itself (headings read with it)
    slug_by_char: dict[str, tuple[str, ...]] = field(default_factory=dict)   # slug_starts by first character


def _by_first_char(phrases: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``phrases`` grouped by their first character, in their order: a line only has to be tried against
    the phrases that start as it does (every slug phrase is non-empty)."""
    out: dict[str, list[str]] = {}
    for p in phrases:
        out.setdefault(p[:1], []).append(p)
    return {k: tuple(v) for k, v in out.items()}


@per_rule_data
def lexicon(data: dict[str, Any]) -> Lexicon:
    s, st, tr, cue = data["slug"], data["structure"], data["transition"], data["cue"]
    joiners = sorted(cue["joiners"], key=lambda j: (-len(j), j))
    return Lexicon(
        slug_starts=tuple(sorted({norm(x) for x in s["starts"]}, key=lambda x: (-len(x), x))),
        slug_contains=tuple(x.upper() for x in s["contains"]),
        framing=tuple((norm(f["phrase"]), f["size"], f.get("angle", "")) for f in s["framing"]),
        labels=frozenset(norm(x) for x in st["labels"]),
        label_re=re.compile(st["label_pattern"]),
        cards=frozenset(norm(x) for x in st["cards"]),
        transitions=frozenset(norm(x) for x in tr["terms"]),
        openers=frozenset(norm(x) for x in tr["openers"]),
        intercut=tuple(sorted({norm(x) for x in data["intercut"]["markers"]}, key=lambda x: (-len(x), x))),
        joiners=re.compile("|".join(re.escape(j) for j in joiners)),
        everyone=frozenset(norm(x) for x in cue["everyone"]),
        both=frozenset(norm(x) for x in cue["both"]),
        voice_over=frozenset(_ext_key(x) for x in cue["voice_over"]),
        off_screen=frozenset(_ext_key(x) for x in cue["off_screen"]),
        device=frozenset(_ext_key(x) for x in cue["device"]),
        voice_names=tuple(norm(x) for x in cue.get("voice_names", [])),
        flashback={norm(k): v for k, v in tr.get("flashback", {}).items()},
        data=data,
        slug_by_char=_by_first_char(tuple(sorted({norm(x) for x in s["starts"]}, key=lambda x: (-len(x), x)))),
    )


def _ext_key(ext: str) -> str:
    return re.sub(r"[\s.]+", "", ext.upper())


def _starts_with(text: str, phrase: str) -> bool:
    return text == phrase or (text.startswith(phrase) and not text[len(phrase)].isalnum())


# ---------------------------------------------------------------------------------------------
# Line classification
# ---------------------------------------------------------------------------------------------

def slug_phrase(line: str, lex: Lexicon) -> str | None:
    """The slug phrase a line in capitals starts with (or contains), else None."""
    u = norm(line)
    for p in lex.slug_by_char.get(u[:1], ()):
        if _starts_with(u, p):
            return p
    for c in lex.slug_contains:
        if c in u:
            return c.strip()
    return None


def framing(line: str, lex: Lexicon) -> tuple[str, str]:
    """(shot size, angle) a slug asks for ("" when it asks for none: a name, BACK TO SCENE)."""
    u = norm(line)
    for phrase, size, angle in lex.framing:
        if phrase in ("POV", "P.O.V.", "SCOPE VIEW"):
            if re.search(rf"(?<![A-Z]){re.escape(phrase)}(?![A-Z])", u):
                return size, angle
        elif _starts_with(u, phrase):
            return size, angle
    return "", ""


_POV = re.compile(r"^(?P<who>.*?)['’]S\s+(?:POV|P\.O\.V\.)(?P<rest>.*)$|^(?:POV|P\.O\.V\.)(?P<rest2>.*)$", re.I)


def slug_subject(line: str, phrase: str | None, data: dict[str, Any] | None = None) -> str:
    """What the slug frames: the text after its phrase (``INSERT - SEAT BELT SIGN`` -> SEAT BELT
    SIGN; ``ELAINE'S POV - TV MONITORS`` -> TV MONITORS), or the whole line for a bare name or object
    (``.SCOTT``); a light or a continuation at its end is not part of it (``CLOSEUP - STRIKER -
    NIGHT`` -> STRIKER)."""
    u = " ".join(line.split())
    m = _POV.match(u)
    owner = ""
    if m is not None:
        rest = (m.group("rest") if m.group("rest") is not None else m.group("rest2") or "").strip(" -:–—.,")
        owner = (m.group("who") or "").strip()
        u = rest or owner
    elif phrase and norm(u).startswith(phrase):
        u = u[len(phrase):].strip(" -:–—.,")
        u = re.sub(r"^(?:ON|TO|OF|AT)\s+", "", u, flags=re.I).strip()
    u = u.strip(" -:.")
    if data is not None and u:
        from prodscale.core.v2_0.headings import classify, vocabulary
        parts = [p for p in re.split(r"\s+-\s+|\s*--\s*|\s*[–—]\s*", u) if p.strip()]
        kept = [p for p in parts if classify(norm(p), vocabulary(data))[0] == "place"]
        u = " - ".join(kept) if kept else (owner or u)
    return u


def is_transition(text: str, lex: Lexicon) -> bool:
    u = norm(text)
    return u in lex.transitions or (u.endswith(" TO") and u.isupper() and len(u.split()) <= 5)


def structure_kind(text: str, lex: Lexicon) -> str | None:
    """STRUCTURE for an act or part label, CARD for a title card, None otherwise."""
    u = norm(text)
    if "\n" in text.strip():
        return None
    head = u.split(":", 1)[0].strip()
    if head in lex.cards:
        return CARD
    if u in lex.labels or lex.label_re.match(u):
        return STRUCTURE
    return None


def intercut_marker(text: str, lex: Lexicon) -> str | None:
    u = norm(text)
    for m in lex.intercut:
        if _starts_with(u, m):
            return m
    return None


def voice_of(extension: str | None, lex: Lexicon) -> str | None:
    """'vo' (narration over the picture), 'device' (heard through a phone or radio), 'os' (in the
    scene, off frame) or None (on screen). Each group of the extension counts, and so does each
    word of it (``FEMALE V.O.``, ``RADIO V.O.``); ``V.0`` is V.O."""
    if not extension:
        return None
    parts: list[str] = []
    for group in re.split(r"[,;]", extension.replace("0", "O")):
        if group.strip():
            parts.append(_ext_key(group))
            words = group.split()
            parts.extend(_ext_key(w) for w in words)
            parts.extend(_ext_key(" ".join(words[i:i + 2])) for i in range(len(words) - 1))
    if any(p in lex.device for p in parts):
        return "device"
    if any(p in lex.voice_over for p in parts):
        return "vo"
    if any(p in lex.off_screen for p in parts):
        return "os"
    return None


def cue_names(name: str, lex: Lexicon) -> list[str]:
    """The characters a cue names: one, several for a joint cue, none for ALL/BOTH (resolved by
    the scene). ``TROY / ABED`` -> [TROY, ABED]."""
    n = norm(name)
    if n in lex.everyone or n in lex.both or any(n.startswith(f"{e} BUT ") for e in lex.everyone):
        return []
    m = re.match(r"^(.+?)['’]S (?:THOUGHTS|INNER VOICE)$", n)
    if m:
        return [m.group(1)]   # STRIKER'S THOUGHTS: Striker, heard
    if len(n.split()) > 1 and len(set(n.split())) == 1:
        return [n.split()[0]]   # GRIFFIN GRIFFIN (a converted page's doubled cue) is GRIFFIN
    parts = [p.strip(" .,") for p in lex.joiners.split(name)]
    parts = [" ".join(p.split()) for p in parts if p.strip(" .,")]
    if len(parts) < 2 or any(sum(c.isalpha() for c in p) < 2 for p in parts):
        return [name]   # R2/D2 is one name
    return parts


@per_rule_data
def _continuation_words(heading: dict[str, Any]) -> frozenset[str]:
    return frozenset(norm(t) for t in [*heading.get("continuations", []), *heading.get("simultaneous", [])])


_TITLE_STOPS = frozenset({"PROF.", "CAPT.", "INSP.", "SUPT.", "CMDR.", "LIEUT.", "SERG.", "GENL."})


def not_a_name(name: str, lex: Lexicon) -> bool:
    """A cue that cannot be a character's name ([cue] max_name_words, not_name_first, not_name_last; a ? or !
    in it, a colon at its end): a broken line of action in capitals."""
    cue = lex.data["cue"]
    words = norm(name).split()
    if not words or "max_name_words" not in cue:
        return False
    times = _continuation_words(lex.data["heading"])
    # a ? or ! after a word of two letters or more (E! REPORTER is a name; "THAT'S HIGH?" is not)
    marks = re.search(r"[^\W\d_]{2,}[!?]", name) is not None
    raw = name.upper().split()
    # a full stop after a word: at the end of five letters or more ("FIGHT."), or inside the cue after four
    # ("SHIT. WE'RE IN LOS"), titles aside (PROF. X, CAPT. Y)
    sentence = any(w.endswith(".") and w[:-1].isalpha() and w not in _TITLE_STOPS
                   and (len(w) >= 6 or (k < len(raw) - 1 and len(w) >= 5)) for k, w in enumerate(raw))
    return (marks or name.rstrip().endswith(":") or len(words) > int(cue["max_name_words"]) or sentence
            or ("," in name and len(words) >= 4) or norm(name) in times
            or words[0] in cue.get("not_name_first", []) or words[-1] in cue.get("not_name_last", []))


def is_slug_cue(name: str, lex: Lexicon) -> bool:
    """A cue that is really a slug: BACK TO STRIKER, INSERT - SEAT BELT SIGN, JOHN'S POV."""
    u = norm(name)
    for c in lex.slug_contains:
        if c in u:
            return True
    if u in _LONE_SLUGS:
        return True   # ANGLE, INSERT, REVERSE standing as a cue: a slug, not a character named ANGLE
    for p in lex.slug_by_char.get(u[:1], ()):
        if _starts_with(u, p):
            return u != p or " " in p
    return False


_LONE_SLUGS = frozenset({"ANGLE", "INSERT", "WIDER", "CLOSER", "REVERSE", "POV", "CLOSEUP", "CLOSE-UP",
                         "REVERSE ANGLE", "NEW ANGLE", "BACK TO SCENE"})


# ---------------------------------------------------------------------------------------------
# Elements
# ---------------------------------------------------------------------------------------------

def _span(first: int, first_col: int, last: int, last_col: int) -> dict[str, int]:
    return {"start_line": first, "start_col": first_col, "end_line": last, "end_col": last_col}


def _union(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    lo = min((a["start_line"], a["start_col"]), (b["start_line"], b["start_col"]))
    hi = max((a["end_line"], a["end_col"]), (b["end_line"], b["end_col"]))
    return _span(lo[0], lo[1], hi[0], hi[1])


def _slug_element(text: str, span: dict[str, int], lex: Lexicon, source: str) -> dict[str, Any]:
    phrase = slug_phrase(text, lex)
    size, angle = framing(text, lex)
    out = {"kind": SLUG, "text": " ".join(text.split()), "span": span, "framing": size,
           "subject": slug_subject(text, phrase, lex.data), "source": source}
    if angle:
        out["angle"] = angle
    return out


@dataclass
class Block:
    """A scene (or the prologue) while it is being read: its heading and its elements."""

    heading: str
    heading_span: dict[str, int]
    number: str | None
    forced: bool
    int_ext: str | None
    reading: HeadingReading | None              # None: the prologue
    elements: list[dict[str, Any]] = field(default_factory=list)
    last_line: int = 0


def _read_elements(raw: list[Element], lex: Lexicon, diags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(raw):
        el = raw[i]
        d = el.to_dict()
        if el.kind == CHARACTER:
            j = i + 1
            speech: list[Element] = []
            while j < len(raw) and raw[j].kind in (DIALOGUE, PARENTHETICAL, NOTE):
                speech.append(raw[j])
                j += 1
            name = el.name or el.text.strip()
            cue_text = strip_emphasis(el.text.strip())
            lines = [s for s in speech if s.kind != NOTE]
            notes = [s.to_dict() for s in speech if s.kind == NOTE]
            if not_a_name(name, lex) and not (is_transition(cue_text, lex) or structure_kind(cue_text, lex)
                                              or is_slug_cue(name, lex)):
                diags.append({"code": "PS012", "span": d["span"], "match": cue_text})
                span = d["span"]
                for s in lines:
                    span = _union(span, s.span.to_dict())
                out.append({"kind": ACTION, "text": "\n".join([cue_text, *(s.text for s in lines)]), "span": span})
                out.extend(notes)
                i = j
                continue
            if is_transition(cue_text, lex) or structure_kind(cue_text, lex) or is_slug_cue(name, lex):
                if is_transition(cue_text, lex):
                    out.append({**d, "kind": TRANSITION, "text": cue_text})
                elif structure_kind(cue_text, lex):
                    out.append({**d, "kind": structure_kind(cue_text, lex), "text": cue_text})
                else:
                    out.append(_slug_element(cue_text, d["span"], lex, "cue"))
                    diags.append({"code": "PS011", "span": d["span"], "match": cue_text})
                if lines:
                    span = lines[0].span.to_dict()
                    for s in lines[1:]:
                        span = _union(span, s.span.to_dict())
                    out.append({"kind": ACTION, "text": "\n".join(s.text for s in lines), "span": span})
                out.extend(notes)
                i = j
                continue
            names = cue_names(name, lex)
            d["names"] = names
            n = norm(name)
            if n in lex.everyone or any(n.startswith(f"{e} BUT ") for e in lex.everyone):
                d["group"] = "all"
            elif n in lex.both:
                d["group"] = "both"
            voice = voice_of(el.extension, lex)
            if voice is None and re.search(r"['’]S (?:THOUGHTS|INNER VOICE)$", n):
                voice = "vo"
            elif voice is None and any(n == v or n.endswith(" " + v) for v in lex.voice_names):
                voice = "os"   # A MAN'S VOICE, P.A. SYSTEM: heard, not seen
            if voice:
                d["voice"] = voice
            out.append(d)
            out.extend(s.to_dict() for s in speech)
            i = j
            continue
        if el.kind == ACTION:
            text = strip_emphasis(el.text)
            first, _, rest = el.text.strip("\n").partition("\n")
            if is_transition(text, lex):
                out.append({**d, "kind": TRANSITION, "text": text.strip()})
            elif structure_kind(text, lex):
                out.append({**d, "kind": structure_kind(text, lex), "text": text.strip()})
            elif not _LOWER.search(first) and slug_phrase(first, lex) is not None and first.strip()[:1].isalpha():
                sp = el.span
                fspan = _span(sp.start_line, sp.start_col, sp.start_line, sp.start_col + len(first))
                out.append(_slug_element(first, fspan, lex, "action"))
                if rest.strip():
                    out.append({"kind": ACTION, "text": rest, "span": _span(sp.start_line + 1, 1, sp.end_line,
                                                                            sp.end_col)})
            elif not rest.strip() and _is_shot_line(first, lex):
                # a line in capitals standing alone (THE TRUCK., A RIVER.): a shot, as afterwriting's
                # "shot" element is, not action whose words become inserts
                out.append(_slug_element(first.strip().rstrip(".:"), d["span"], lex, "action"))
            else:
                out.append(d)
            i += 1
            continue
        if el.kind == TRANSITION and el.forced and not is_transition(el.text, lex) \
                and not norm(el.text).endswith(" TO") and not intercut_marker(el.text, lex):
            # "> OUTSIDE", "> COMMAND CENTER": a writer's quick change of place within the scene, not a cut
            out.append(_slug_element(el.text.strip(), d["span"], lex, "transition"))
            i += 1
            continue
        out.append(d)
        i += 1
    for e in out:   # INTERCUT WITH:, INTERCUT - ..., WE NOW INTERCUT WITH ...: a line in capitals that says so
        first = e["text"].strip().split("\n", 1)[0]
        if e["kind"] in (TRANSITION, SLUG, ACTION) and not _LOWER.search(first) and \
                (intercut_marker(first, lex) or _INTERCUT_WORD.search(norm(first))):
            e["intercut"] = True
        elif e["kind"] == ACTION and _INTERCUT_SENTENCE.match(first):
            e["intercut"] = True   # written as a sentence: "We intercut between Shawn and Kelly."
    return out


_SAME_MOMENT = frozenset({"CONTINUOUS", "CONTINUED", "SAME", "SAME TIME", "SAME MOMENT", "SIMULTANEOUS",
                          "SIMULTANEOUSLY"})
_INTERCUT_WORD = re.compile(r"\bINTER-?CUT(?:TING)?\b|\bCROSS-?CUT(?:TING)?\b")


def _is_shot_line(line: str, lex: Lexicon) -> bool:
    """A paragraph of one line in capitals, short, not an exclamation: a shot of what it names."""
    t = strip_emphasis(line).strip()
    words = t.split()
    return (bool(words) and len(words) <= 8 and not _LOWER.search(t) and t[:1].isalpha()
            and not t.endswith(("!", "?", "...", "…")) and sum(c.isalpha() for c in t) >= 3
            and not is_transition(t, lex) and structure_kind(t, lex) is None)


def _is_scene_heading(reading: HeadingReading, forced: bool, int_ext: str | None, heading: str,
                      lex: Lexicon) -> bool:
    if int_ext is not None:
        return True
    if slug_phrase(heading, lex) is not None:
        return False
    return reading.set is not None and (reading.light is not None or reading.continuation is not None)


def _blocks(story: Story, data: dict[str, Any], prefixes: tuple[str, ...],
            diags: list[dict[str, Any]]) -> list[Block]:
    lex = lexicon(data)
    first_line = 1
    prologue = Block("", _span(first_line, 1, first_line, 1), None, False, None, None)
    blocks = [prologue]
    pending: list[Element] = list(story.prologue)
    current = prologue

    def flush() -> None:
        current.elements.extend(_read_elements(pending, lex, diags))
        pending.clear()

    for sc in story.scenes:
        pm = match_prefix(sc.heading, prefixes)
        rest = sc.heading[pm[1]:] if pm is not None and sc.int_ext is not None else sc.heading
        int_ext = "EXT" if sc.int_ext == "EST" else sc.int_ext
        reading = read_heading(rest, int_ext, data)
        if sc.int_ext == "EST" and "ESTABLISHING" not in reading.modifiers:
            reading.modifiers.append("ESTABLISHING")
        if sc.forced and not _is_scene_heading(reading, sc.forced, int_ext, sc.heading, lex):
            flush()
            slug = _slug_element(sc.heading, sc.heading_span.to_dict(), lex, "forced")
            if intercut_marker(sc.heading, lex):
                slug["intercut"] = True
            current.elements.append(slug)
            pending.extend(sc.elements)
            current.last_line = max(current.last_line, sc.span.end_line)
            continue
        flush()
        current = Block(sc.heading, sc.heading_span.to_dict(), sc.number, sc.forced, int_ext, reading,
                        last_line=sc.span.end_line)
        blocks.append(current)
        if reading.shot:   # the heading's own camera direction frames the scene's first shot
            current.elements.append(_slug_element(reading.shot, sc.heading_span.to_dict(), lex, "heading"))
        pending.extend(sc.elements)
    flush()
    shown = [e for e in prologue.elements if e["kind"] in _FILMABLE] or prologue.elements
    if shown:   # the prologue is where its first filmable element is
        first_line = shown[0]["span"]["start_line"]
        prologue.heading_span = _span(first_line, 1, first_line, 1)
    prologue.last_line = max([prologue.last_line] + [e["span"]["end_line"] for e in prologue.elements])
    return blocks


# ---------------------------------------------------------------------------------------------
# The story
# ---------------------------------------------------------------------------------------------

@dataclass
class StoryReading:
    """A story as engine 2.0.0 reads it: scene units for the stages, and reading diagnostics
    (``{"code", "span" (file lines), "match"}``)."""

    units: list[SceneUnit]
    diagnostics: list[dict[str, Any]]
    characters: list[dict[str, Any]]


def _numbers(blocks: list[Block]) -> list[str]:
    """Scene numbers: the script's own where it gives one, else the position among the scenes
    (the prologue is 0); a position already taken by a script number gets a prime."""
    explicit = {b.number for b in blocks if b.number}
    out: list[str] = []
    n = 0
    for b in blocks:
        if b.reading is None:
            out.append("0")
            continue
        n += 1
        if b.number:
            out.append(b.number)
            continue
        num = str(n)
        while num in explicit or num in out:
            num += "'"
        out.append(num)
    return out


def _shift(span: dict[str, int], offset: int) -> dict[str, int]:
    return {**span, "start_line": span["start_line"] - offset, "end_line": span["end_line"] - offset}


def _light_in_action(b: Block, data: dict[str, Any]) -> tuple[str, str] | None:
    """(light, D/N) the scene's first action paragraph states (``[heading.action_lights]``), or None."""
    phrases = data["heading"].get("action_lights") or {}
    lights = data["heading"]["lights"]
    first = next((e for e in b.elements if e["kind"] == ACTION), None)
    if first is None or not phrases:
        return None
    words = re.findall(r"[a-z]+", first["text"].lower())
    text = f" {' '.join(words)} "
    found = [(text.find(f" {p} "), p) for p in phrases if f" {p} " in text]
    if not found:
        return None
    light = str(phrases[min(found)[1]])
    return light, str(lights.get(light, "DAY"))


def _shorter_name(short: str, full: str) -> bool:
    """``short`` names ``full`` with fewer words, from its start (HAL'S for HAL'S IN VENICE)."""
    a, b = short.split(), full.split()
    return 0 < len(a) < len(b) and b[:len(a)] == a


_INTERCUT_SENTENCE = re.compile(r"\s*(?:we\s+(?:now\s+)?)?intercut(?:ting)?\s+(?:between|with|to)\b", re.I)


def _before_intercut(b: Block) -> list[str]:
    """The characters a scene shows or hears before its INTERCUT marker (none when the marker opens it)."""
    names: list[str] = []
    for e in b.elements:
        if e.get("intercut"):
            return names
        for n in [*(e.get("names") or []), *(e.get("cast") or [])] if e["kind"] in (CHARACTER, ACTION) else []:
            if n not in names:
                names.append(n)
    return []   # the marker closes the scene ("INTERCUT WITH:"): nobody is placed by it


def _resolve_intercuts(blocks: list[Block], real: list[int]) -> dict[int, dict[str, Any]]:
    """{block index: {"with": other block index}} for scenes that intercut with another."""
    out: dict[int, dict[str, Any]] = {}
    for pos, bi in enumerate(real):
        els = [e for e in blocks[bi].elements if e["kind"] != NOTE]
        marks = [k for k, e in enumerate(els) if e.get("intercut")]
        if not marks:
            continue
        if marks[-1] == len(els) - 1 and len(marks) == 1 and pos + 1 < len(real):
            out[real[pos + 1]] = {"with": bi}       # "INTERCUT WITH:" closing a scene: the next one
        elif pos > 0:
            out[bi] = {"with": real[pos - 1]}
    return out


_YEAR = re.compile(r"(?<![\d,.])(1[0-9]\d\d|20\d\d)(?!\d|,\d)(?!\s*(?i:miles|feet|meters|metres|dollars|people|men)\b)")


# a number after one of these is a room, a flight or a route, not a year ("ROOM 1408", "FLIGHT 2049")
_NOT_YEAR_BEFORE = frozenset({"ROOM", "ROOMS", "APARTMENT", "APT", "SUITE", "UNIT", "FLIGHT", "ROUTE", "HIGHWAY",
                              "INTERSTATE", "PAGE", "NO", "NUMBER", "NUM", "BUS", "TRAIN", "CHANNEL", "PLATFORM",
                              "GATE", "PIER", "CELL", "LOCKER", "MODEL", "CASE", "CODE", "BADGE", "TABLE", "EXHIBIT",
                              "BOX", "LOT", "BAY", "DOCK", "HANGAR", "LAB", "OFFICE", "FLOOR", "LEVEL", "SECTOR",
                              "SECTION", "BLOCK", "WARD", "BED", "SEAT", "ROW", "TRACK", "EXIT", "STREET", "AVENUE"})


def _year_in(text: str) -> int | None:
    """The year a heading or a card states ("1962", "LONDON, 1888", "SUMMER 1969"), the last one when several;
    a number after a room, a flight, a route (``ROOM 1408``, ``#1408``) is none."""
    found = []
    for m in _YEAR.finditer(text):
        before = text[:m.start()].rstrip()
        word = before.split()[-1].rstrip(".:").upper() if before.split() else ""
        if before.endswith("#") or word in _NOT_YEAR_BEFORE:
            continue
        found.append(m.group(1))
    return int(found[-1]) if found else None


def _own_names(blocks: list[Block], registry: Any, rules: Any) -> list[str]:
    """One-word real names that are this story's own places or characters (not the real person here)."""
    if "lists/real_people.tsv" not in rules:
        return []
    from prodscale.core.v2_0.people import own_names
    words: list[str] = []
    for b in blocks:
        if b.reading is not None:
            words.extend(w for x in (b.reading.set, b.reading.area) if x for w in re.findall(r"[^\W\d_]+", x))
    from prodscale.core.v2_0.people import is_real_full_name
    for form in registry.forms:
        parts = form.split()
        # a word of a character's full name (ODILE of ODILE MARCHETTI, WINSLOW of ED WINSLOW) is the story's own,
        # unless that full name is itself a real person's (ABRAHAM LINCOLN); a lone LINCOLN stays a real name
        if len(parts) > 1 and not is_real_full_name(form, rules["lists/real_people.tsv"]):
            words.extend(parts)
    return own_names(words, rules["lists/real_people.tsv"])


def _in_vehicle(r: HeadingReading, data: dict[str, Any]) -> bool:
    """The set is a vehicle (INT. CAR, INT. WALT'S NISSAN SENTRA, INT. VAN - MOVING): the camera rides along."""
    from prodscale.core.v2_0.cast import lists, listed
    return any(cat == "vehicles" for _, cat in listed(" ".join(x for x in (r.set, r.area) if x), lists(data)))


def _opens_next(b: Block, r: HeadingReading) -> bool:
    """An establishing heading, or a scene with nothing but transitions and structure in it."""
    return "ESTABLISHING" in r.modifiers or not any(e["kind"] in (ACTION, CHARACTER, SLUG) for e in b.elements)


def _next_light(blocks: list[Block], i: int) -> tuple[str, str | None] | None:
    for b in blocks[i + 1:]:
        if b.reading is not None:
            return (b.reading.light, b.reading.day_night) if b.reading.light else None
    return None


def _card_jump(text: str, data: dict[str, Any]) -> str | None:
    """The time jump a title card announces ("TITLES: ONE WEEK LATER", "SMALL TITLE: (2 YEARS LATER)")."""
    from prodscale.core.v2_0.headings import classify, vocabulary
    body = strip_emphasis(text).split(":", 1)[-1]
    body = re.sub(r"[()\[\]\"“”.]", " ", body)
    seg = norm(body)
    return seg if seg and classify(seg, vocabulary(data))[0].startswith("jump") else None


def story_waivers(options: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The ``[[waive]]`` entries of prodscale.toml that concern this story, with where they come from."""
    if not options:
        return []
    out = []
    for n, w in enumerate(options.get("waive") or [], start=1):
        st = w.get("story")
        if st not in (None, "", options.get("story")) and st != options.get("path"):
            continue
        entry = {"code": str(w["code"]).strip().upper(), "reason": " ".join(str(w["reason"]).split()),
                 "origin": f"prodscale.toml [[waive]] #{n}"}
        if w.get("match"):
            entry["match"] = str(w["match"])
        if w.get("scene") is not None:
            entry["scene"] = str(w["scene"])
        out.append(entry)
    return out


def read(story: Story, rules: dict[str, Any], prefixes: tuple[str, ...] = (),
         options: dict[str, Any] | None = None) -> Any:
    """The engine's reader (see :class:`prodscale.core.engines.Reading`): the scene units, and for
    the aggregation the reading diagnostics, the story's characters and its waivers."""
    from prodscale.core.engines import Reading
    waivers = story_waivers(options)
    r = read_story(story, rules, prefixes, waivers)
    return Reading(r.units, {"reading_diagnostics": r.diagnostics, "characters": r.characters, "waivers": waivers})


def read_story(story: Story, rules: dict[str, Any], prefixes: tuple[str, ...] = (),
               waivers: list[dict[str, Any]] | None = None) -> StoryReading:
    """The scene units engine 2.0.0's stages compile, with what reading found."""
    from prodscale.core.v2_0.cast import Registry, scene_cast

    data = rules["reading.toml"]
    diags: list[dict[str, Any]] = []
    blocks = _blocks(story, data, prefixes, diags)
    numbers = _numbers(blocks)
    registry = Registry.build([b.elements for b in blocks], rules["breakdown.toml"])
    for b in blocks:   # every cue names the character the registry decided it is (RUMACK is DR. RUMACK)
        for e in b.elements:
            if e["kind"] == CHARACTER and e.get("names"):
                e["names"] = [registry.canonical(n) for n in e["names"]]
    real = [i for i, b in enumerate(blocks) if b.reading is not None]
    intercuts = _resolve_intercuts(blocks, real)
    casts = [scene_cast(b.elements, registry, rules["breakdown.toml"], registry.ages_at(i)) for i, b in enumerate(blocks)]
    own = _own_names(blocks, registry, rules)
    units: list[SceneUnit] = []
    prev_light: str | None = None
    prev_dn: str | None = None
    lex = lexicon(data)
    carried: list[str] = []     # modifiers a transition gives the next scene (FLASHBACK TO:)
    established: set[tuple[str | None, str]] = set()   # (INT/EXT, set) established in this sequence
    prev_set: tuple[str | None, str] | None = None      # the set of the scene before
    seq_dn: str | None = None
    jumped: str | None = None   # a title card's time jump ("TITLES: ONE WEEK LATER") for the next scene
    year: int | None = None     # the year the story last stated (a heading's "- 1962", a card "LONDON, 1888")
    for i, b in enumerate(blocks):
        if b.reading is not None and (carried or jumped):
            for m in carried:
                if m not in b.reading.modifiers:
                    b.reading.modifiers.append(m)
            if jumped and b.reading.time_jump is None:
                b.reading.time_jump = jumped   # a new day: nothing carries its light over
                prev_light = prev_dn = None
            carried, jumped = [], None
        if b.reading is not None:
            year = _year_in(" ".join(b.reading.modifiers)) or year
        for e in b.elements:
            if e["kind"] == CARD:
                year = _year_in(e["text"]) or year
            if e["kind"] == TRANSITION:
                key = norm(e["text"]).rstrip(":").strip()
                carried = [lex.flashback[key]] if key in lex.flashback else []
            elif e["kind"] == CARD:
                jumped = _card_jump(e["text"], data) or jumped
            elif e["kind"] not in (NOTE, STRUCTURE):
                carried = []
        if b.reading is None and not any(e["kind"] in _FILMABLE for e in b.elements):
            continue  # a prologue of labels, transitions and notes: nothing to film
        r = b.reading
        first = b.heading_span["start_line"]
        offset = first - 1
        last = max([b.last_line, first] + [e["span"]["end_line"] for e in b.elements])
        light = dn = light_from = None
        light_conflict: str | None = None
        establish = False
        if r is not None:
            if r.light is not None:
                light, dn, light_from = r.light, r.day_night, "heading"
                if r.continuation in _SAME_MOMENT and prev_dn and dn and dn != prev_dn:
                    light_conflict = prev_dn   # "INT. HALL - NIGHT - CONTINUOUS" after a DAY scene
            elif r.continuation is not None and prev_light is not None:
                light, dn, light_from = prev_light, prev_dn, "continuation"
            elif r.time_jump is None and r.continuation is None and _opens_next(b, r) and \
                    (nxt := _next_light(blocks, i)) is not None:
                # an establishing view with no light of its own (EXT. LOS ANGELES - ESTABLISHING): it opens
                # the scene after it, and takes that scene's light
                light, dn, light_from = nxt[0], nxt[1], "next scene"
            elif r.continuation is None and (said := _light_in_action(b, data)) is not None:
                # no light in the heading, but the action says it ("Morning light filters in")
                light, dn, light_from = said[0], said[1], "action"
            elif r.time_jump is None and r.continuation is None and prev_light is not None:
                # no time at all: the light of the scene before, as a 1st AD would assume (PS404 says so)
                light, dn, light_from = prev_light, prev_dn, "assumed"
            # a sequence: the scenes of one stretch of time; it ends at a time jump or a new day
            # (night to day); a set is established once per sequence, on its first scene
            if r.time_jump is not None or (seq_dn == "NIGHT" and dn in ("DAY", "DAWN")):
                established.clear()
            set_key = (b.int_ext, norm(r.set or ""))
            establish = set_key not in established
            if establish and r.continuation is not None and prev_set is not None and prev_set[0] == set_key[0] \
                    and _shorter_name(set_key[1], prev_set[1]):
                establish = False   # INT. HAL'S - LATER after INT. HAL'S IN VENICE: the same place, written short
            if establish and prev_set is not None and (b.int_ext or "").upper() == "INT" and \
                    (prev_set[0] or "").upper() == "EXT" and same_site(prev_set[1], set_key[1]):
                establish = False   # inside, right after its outside was seen: the exterior established it
            prev_set = set_key
            established.add(set_key)
            seq_dn = dn or seq_dn
            if light is not None:
                prev_light, prev_dn = light, dn
            elif r.time_jump is not None:
                prev_light = prev_dn = None
        intercut = None
        if i in intercuts:
            other = blocks[intercuts[i]["with"]]
            here = r.location if r else None
            there = other.reading.location if other.reading else None
            parties: dict[str, str] = {}
            # who is seen here before the cutting starts is here (a script may let them speak in the other
            # scene first, as a phone call begins); the other scene's speakers are there; the rest here
            for name in _before_intercut(b):
                if here:
                    parties[name] = here
            for name in casts[intercuts[i]["with"]]["speakers"]:
                if there and name not in parties:
                    parties[name] = there
            for name in casts[i]["speakers"]:
                if here and name not in parties:
                    parties[name] = here
            intercut = {"locations": [x for x in (there, here) if x], "with_scene": numbers[intercuts[i]["with"]],
                        "parties": dict(sorted(parties.items()))}
        cast = casts[i]
        payload = {
            "heading": b.heading, "heading_span": _shift(b.heading_span, offset),
            "span": _shift(_span(first, 1, last, 1), offset), "number": numbers[i], "forced": b.forced,
            "prologue": r is None, "int_ext": b.int_ext,
            "set": r.set if r else None, "area": r.area if r else None, "location": r.location if r else None,
            "time_of_day": light, "light": light, "day_night": dn, "light_from": light_from,
            "time_words": r.time_words if r else [], "continuation": r.continuation if r else None,
            "time_jump": r.time_jump if r else None, "modifiers": r.modifiers if r else [],
            "intercut": intercut, "establish": bool(r is not None and establish),
            "vehicle": bool(r is not None and _in_vehicle(r, rules["breakdown.toml"])),
            "light_conflict": light_conflict,
            "own_names": own,
            "year": year,
            "waivers": [w for w in (waivers or []) if w.get("scene") in (None, numbers[i])],
            "elements": [{**e, "span": _shift(e["span"], offset)} for e in b.elements],
            "cast": [{**c, "line": c["line"] - offset} for c in cast["cast"]],
            "breakdown": {k: [{**x, "line": x["line"] - offset} for x in v] for k, v in cast["breakdown"].items()},
        }
        units.append(SceneUnit(len(units) + 1, offset, payload, b.heading, numbers[i], first, last))
    return StoryReading(units=units, diagnostics=sorted(diags, key=lambda d: (d["span"]["start_line"], d["code"])),
                   characters=registry.describe())
