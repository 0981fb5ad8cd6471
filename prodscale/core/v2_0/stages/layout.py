"""layout (engine 2.0.0): one scene as print lines of the standard screenplay page, and its words.

Position-independent, so it caches per scene like every stage: the scene's elements become
tokens (one per source line, ``[type, print lines]`` at the element's width of ``stats.toml``; see
:mod:`prodscale.core.v2_0.paginate` for the types), with a blank line wherever the source has
one between elements. The story's aggregation lays every scene's tokens on pages. Text is
measured as printed: emphasis markers and notes are not printed.

Words: action words (action and slugs) and, per speaker, speeches and dialogue words, which feed
``stats.json`` (speaking time, dialogue share) and the runtime estimate.
"""

from __future__ import annotations

from typing import Any

from prodscale.core.fountain_inline import normalize_character, strip_emphasis
from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import clean, word_count
from prodscale.core.v2_0 import paginate as P

VERSION = 1


def wrap(text: str, width: int) -> int:
    """Print lines of one source line at ``width`` characters: cut at the last space within
    width + 1 characters (the space dropped), a word without one cut at width - 1."""
    n, rest = 1, text.rstrip()
    while len(rest) > width:
        cut = rest.rfind(" ", 0, width + 1)
        rest = rest[cut + 1:] if cut > 0 else rest[width - 1:]
        n += 1
    return n


def _text_lines(text: str) -> list[str]:
    """The printed source lines of an element (emphasis markers are not printed; notes were taken
    out of the text by the tokenizer)."""
    return [strip_emphasis(line) for line in text.split("\n")]


def scene_tokens(scene: dict[str, Any], data: dict[str, Any], paper: str) -> list[list[Any]]:
    page = data["paper"][paper]
    w = data["widths"]
    full = int(page["action"])
    tokens: list[list[Any]] = []
    prev_end = 0
    if scene.get("heading") and not scene.get("prologue"):
        tokens.append([P.HEADING, wrap(scene["heading"], full)])
        prev_end = int(scene["heading_span"]["end_line"])
    elements = scene.get("elements", [])
    i = 0
    while i < len(elements):
        el = elements[i]
        k = el["kind"]
        if k in ("note", "section", "synopsis"):
            i += 1
            continue
        start = int(el["span"]["start_line"])
        if prev_end and start > prev_end + 1:
            tokens.append([P.BLANK, 1])
        prev_end = max(prev_end, int(el["span"]["end_line"]))
        if k == "page_break":
            tokens.append([P.BREAK, 0])
        elif k == "character" and el.get("dual"):
            # a dual pair: the left cue's block, at three quarters of each width, never split
            height = wrap(el["text"], int(w["dual_cue"]))
            j = i + 1
            while j < len(elements) and elements[j]["kind"] in ("dialogue", "parenthetical", "note"):
                e = elements[j]
                if e["kind"] == "dialogue":
                    height += sum(wrap(t, int(w["dual_dialogue"])) for t in _text_lines(e["text"]))
                elif e["kind"] == "parenthetical":
                    height += wrap(strip_emphasis(e["text"]), int(w["dual_parenthetical"]))
                prev_end = max(prev_end, int(e["span"]["end_line"]))
                j += 1
            if j < len(elements) and elements[j]["kind"] == "character" and elements[j].get("dual"):
                j += 1   # the right column: drawn beside the left one, not counted
                while j < len(elements) and elements[j]["kind"] in ("dialogue", "parenthetical", "note"):
                    prev_end = max(prev_end, int(elements[j]["span"]["end_line"]))
                    j += 1
            tokens.append([P.DUAL, height])
            i = j
            continue
        elif k == "character":
            tokens.append([P.CUE, wrap(el["text"], int(w["cue"]))])
        elif k == "parenthetical":
            tokens.extend([P.PAREN, wrap(t, int(w["parenthetical"]))] for t in _text_lines(el["text"]))
        elif k == "dialogue":
            tokens.extend([P.DIALOGUE, wrap(t, int(w["dialogue"]))] for t in _text_lines(el["text"]))
        elif k == "transition":
            tokens.append([P.TRANSITION, wrap(strip_emphasis(el["text"].strip()), full)])
        elif k == "slug" and el.get("source") == "forced":
            tokens.append([P.HEADING, wrap(el["text"], full)])
        elif k == "slug" and el.get("source") == "cue":
            tokens.append([P.CUE, wrap(el["text"], int(w["cue"]))])
        elif k in ("centered", "lyrics"):
            tokens.extend([P.OTHER, wrap(t.strip(), full)] for t in _text_lines(el["text"]))
        else:   # action, slugs and structure written as action, cards
            tokens.extend([P.ACTION, wrap(t, full)] for t in _text_lines(el["text"]))
        i += 1
    tokens.append([P.BLANK, 1])   # the blank line before the next heading
    return tokens


def scene_words(scene: dict[str, Any]) -> dict[str, Any]:
    action = dialogue = 0
    speech: dict[str, dict[str, int]] = {}
    who: list[str] = []
    for el in scene.get("elements", []):
        k = el["kind"]
        if k in ("action", "slug", "card", "centered"):
            action += word_count(clean(el["text"]))
        elif k == "character":
            names = [normalize_character(n)[0] for n in (el.get("names") or [])] or [el.get("name") or el["text"]]
            who = [n for n in names if n]
            for n in who:
                speech.setdefault(n, {"speeches": 0, "words": 0})["speeches"] += 1
        elif k == "dialogue":
            words = word_count(clean(el["text"]))
            dialogue += words
            for n in who:
                speech.setdefault(n, {"speeches": 0, "words": 0})["words"] += words
    return {"action_words": action, "dialogue_words": dialogue, "speech": dict(sorted(speech.items()))}


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    data = rules["stats.toml"]
    paper = settings.get("project.paper") or "letter"
    tokens = scene_tokens(inputs["scene"], data, paper)
    return {"paper": paper, "tokens": tokens, "lines": P.token_lines(tokens), **scene_words(inputs["scene"])}


SPEC = StageSpec(name="layout", version=VERSION, rule_files=("stats.toml",), settings=("project.paper",),
                 inputs=("scene",), run=run)
