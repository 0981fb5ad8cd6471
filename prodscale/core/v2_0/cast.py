"""Engine 2.0.0: who is in each scene and what a 1st AD tags in it.

**Cast.** A story's characters are its speakers (each name of a joint cue) and the people its action
introduces in capitals with an age or a description (``SCOTT (30s) is painting``, ``WILL BLOOM, AGE
3``, ``a YOUNG WOMAN (20s)``), whether they ever speak or not. A full name gives aliases: its first
and last word (``WALTER WHITE``: WALTER, WHITE; honorifics dropped), and a cue that is a prefix of
its first name (``WALT``) is that character. An alias two characters share is nobody's. A scene's
cast is who speaks in it (on screen or off) and who its action, slugs and parentheticals name by
name or alias, in capitals or with a capital initial, each with the line of their first
appearance. A character heard only through voice over or a device is ``voice_only``.

**Breakdown.** Per scene, in the Movie Magic Scheduling categories of ``breakdown.toml``:
words of the category lists (whole words, any case) and runs of capitals, which writers use to
single out what matters. A capitalised run is a person (never a prop) when it names a character;
a sound (it goes to the audio, never an insert) when it holds a sound word or an onomatopoeia
(``BZZZZ``); nothing when it is a camera or editing word or an emphasis (``NOT``, ``NEW``); a
listed element when a category list holds it; background when it holds a people word; and a
**prop the action singles out** (``singled_out``: the shot list inserts it) when it follows a
determiner (``the brass KEY``, ``AN RV``). Minors are characters or groups under
``[minors].adult_age`` or named by a minor word: a studio teacher is needed.

Pure, deterministic: lists are compiled once per rule data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prodscale.core.fountain_inline import normalize_character
from prodscale.core.stages._text import Hit, caps_runs, clean, fold_term, per_rule_data

CATEGORY_ORDER = ("background", "vehicles", "weapons", "animals", "wardrobe", "makeup", "special_effects", "sound",
                  "music", "props", "set_dressing", "special_equipment", "greenery", "stunts")
BREAKDOWN_KEYS = (*CATEGORY_ORDER, "minors")
_SCANNED = ("action", "slug", "parenthetical")
_ONOMATOPOEIA = re.compile(r"([A-Z])\1\1|^([A-Z]+)(?:-\2)+[!.]*$")   # AAAH, BZZZ; WHOOSH-WHOOSH
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
                 "sixteen": 16, "seventeen": 17}
_AGE_AFTER = re.compile(
    r"^\s*(?:\(\s*(?:age\s+)?(?P<p>\d{1,3})\s*(?:s|'s)?\s*[,)]|\(\s*(?P<teen>(?:early |mid |late |mid-)?teens)\s*\)"
    r"|\(\s*(?P<desc>[^()]{1,40})\)|,\s*(?:age[d]?\s+)?(?P<c>\d{1,3})(?:s|'s)?\b|,\s*age[d]?\s+(?P<w>[a-z]+)\b"
    r"|,\s*(?:a|an|the|his|her|late|early|mid)\b)", re.I)
_YEAR_OLD = re.compile(r"\b(?P<n>\d{1,2}|[a-z]+)[- ]years?[- ]old\b", re.I)


@dataclass(frozen=True, eq=False)
class Lists:
    """``breakdown.toml`` compiled once per rule data."""

    honorifics: frozenset[str]
    not_aliases: frozenset[str]
    people: frozenset[str]
    minor_words: frozenset[str]
    adult_age: int
    categories: dict[str, list[str]]
    folded: dict[str, frozenset[str]]
    phrases: dict[tuple[str, ...], str]   # folded words of a listed phrase -> its (first) category
    longest: int
    camera: frozenset[str]
    emphasis: frozenset[str]
    ignore: tuple[str, ...]
    determiners: frozenset[str]
    adjectives: frozenset[str]
    not_props: frozenset[str]          # body parts and places: framed or a set, never a prop


@per_rule_data
def lists(data: dict[str, Any]) -> Lists:
    cats = {k: list(data["categories"][k]) for k in CATEGORY_ORDER if k in data["categories"]}
    words = data["words"]
    camera = frozenset(w.upper() for w in words["camera"])
    emphasis = frozenset(w.upper() for w in words["emphasis"])
    phrases: dict[tuple[str, ...], str] = {}
    for cat in CATEGORY_ORDER:
        for term in cats.get(cat, []):
            phrases.setdefault(tuple(_words(fold_term(term))), cat)
    return Lists(
        phrases=phrases, longest=max((len(k) for k in phrases), default=1),
        honorifics=frozenset(w.upper().rstrip(".") for w in data["cast"]["honorifics"]),
        not_aliases=frozenset(w.upper().rstrip(".") for w in data["cast"]["not_aliases"]),
        people=frozenset(w.upper() for w in data["cast"]["people"]),
        minor_words=frozenset(w.upper() for w in data["minors"]["words"]),
        adult_age=int(data["minors"]["adult_age"]),
        categories=cats,
        folded={k: frozenset(fold_term(t) for t in v) for k, v in cats.items()},
        camera=camera, emphasis=emphasis, ignore=tuple(sorted(camera | emphasis)),
        determiners=frozenset(w.upper() for w in words["determiners"]),
        adjectives=frozenset(w.upper() for w in words["adjectives"]),
        not_props=frozenset(w.upper() for w in [*words["body"], *words["places"]]),
    )


_WORD = re.compile(r"[^\W_]+(?:[-'’.&/][^\W_]+)*")


def _words(folded: str) -> list[str]:
    return [m.group(0) for m in _WORD.finditer(folded)]


def listed(text: str, lx: Lists) -> list[tuple[Hit, str]]:
    """(hit, category) for every listed phrase in ``text`` as whole words, any case, longest first
    and left to right without overlaps: a dictionary of word tuples, no pattern to compile."""
    toks = [(m.start(), m.end(), fold_term(m.group(0))) for m in _WORD.finditer(text)]
    out: list[tuple[Hit, str]] = []
    i = 0
    while i < len(toks):
        for n in range(min(lx.longest, len(toks) - i), 0, -1):
            cat = lx.phrases.get(tuple(t[2] for t in toks[i:i + n]))
            if cat is not None:
                start, end = toks[i][0], toks[i + n - 1][1]
                out.append((Hit(start, end, text[start:end]), cat))
                i += n
                break
        else:
            i += 1
    return out


def runs(text: str, lx: Lists) -> list[Hit]:
    """Runs of capitals with the camera words and emphases at their ends trimmed off ("AN RV" ->
    "RV", "TILT DOWN" -> nothing); words inside a run stay ("WALTER WHITE")."""
    out: list[Hit] = []
    for run in caps_runs(text):
        parts = [(m.start(), m.end()) for m in re.finditer(r"\S+", run.text)]
        skip = lx.camera | lx.emphasis
        while parts and run.text[parts[0][0]:parts[0][1]].upper().strip(",.;:!?") in skip:
            parts.pop(0)
        while parts and run.text[parts[-1][0]:parts[-1][1]].upper().strip(",.;:!?") in lx.camera:
            parts.pop()
        if parts:
            start, end = run.start + parts[0][0], run.start + parts[-1][1]
            out.append(Hit(start, end, text[start:end]))
    return out


_ARTICLES = ("A", "AN", "THE")


def intro_runs(text: str, lx: Lists) -> list[Hit]:
    """Runs that may introduce a character: a run right before "(" is one as written (``BIG (40s)``,
    ``A YOUNG WOMAN (20s)`` without its article); others as :func:`runs` trims them."""
    out: list[Hit] = []
    for run in caps_runs(text):
        if text[run.end:run.end + 2].lstrip().startswith("("):
            words = run.text.split()
            start = run.start
            while len(words) > 1 and words[0].upper() in _ARTICLES:
                start = text.index(words[1], start + len(words[0]))
                words = words[1:]
            out.append(Hit(start, run.end, text[start:run.end]))
    taken = {(h.start, h.end) for h in out}
    ends = {h.end for h in out}
    out.extend(h for h in runs(text, lx) if (h.start, h.end) not in taken and h.end not in ends)
    return sorted(out, key=lambda h: h.start)


def _name_words(name: str, lx: Lists) -> list[str]:
    words = [w.strip(",;:") for w in name.upper().split()]
    return [w for w in words if w and w.rstrip(".") not in lx.honorifics]


def _age(after: str) -> tuple[int | None, bool]:
    """(age, introduced) from the text right after a capitalised run."""
    m = _AGE_AFTER.match(after)
    if m is None:
        return None, False
    for g in ("p", "c"):
        if m.group(g):
            return int(m.group(g)), True
    if m.group("w"):
        return _NUMBER_WORDS.get(m.group("w").lower()), True
    if m.group("teen"):
        return 15, True
    desc = m.group("desc")
    if desc is not None:
        y = _YEAR_OLD.search(desc)
        if y:
            n = y.group("n")
            return (int(n) if n.isdigit() else _NUMBER_WORDS.get(n.lower())), True
        return None, not desc.strip().upper().replace(".", "") in {"VO", "OS", "OC", "CONTD"}
    return None, True


@dataclass
class Registry:
    """The story's characters: canonical names, every form that names each, ages."""

    names: list[str]
    forms: dict[str, str]              # upper-cased form -> canonical name
    ages: dict[str, int]
    pattern: re.Pattern[str] | None
    name_words: frozenset[str]         # every word of every name, ambiguous ones too: never a prop

    @classmethod
    def build(cls, scenes: list[list[dict[str, Any]]], data: dict[str, Any]) -> "Registry":
        lx = lists(data)
        speakers: list[str] = []
        intros: dict[str, int | None] = {}
        for elements in scenes:
            for el in elements:
                if el["kind"] == "character":
                    for n in el.get("names") or []:
                        name = normalize_character(n)[0]
                        if name and name not in speakers:
                            speakers.append(name)
                elif el["kind"] == "action":
                    text = clean(el["text"])
                    for run in intro_runs(text, lx):
                        age, introduced = _age(text[run.end:run.end + 48])
                        if not introduced:
                            continue
                        words = _name_words(run.text, lx)
                        if not words or (age is None and _category(run.text, lx) is not None):
                            continue   # "AN RV, rusting": a thing, not a person
                        name = " ".join(run.text.upper().split())
                        if name not in intros or (intros[name] is None and age is not None):
                            intros[name] = age
        forms: dict[str, str] = {}
        ambiguous: set[str] = set()

        def add(form: str, canonical: str) -> None:
            if form in forms and forms[form] != canonical:
                ambiguous.add(form)
            forms.setdefault(form, canonical)

        for s in speakers:
            forms[s] = s
        ages: dict[str, int] = {}
        for full, age in sorted(intros.items()):
            words = _name_words(full, lx)
            canonical = full if full in forms else None
            if canonical is None and words:
                first, last = words[0], words[-1]
                for s in speakers:
                    sw = _name_words(s, lx)
                    if s in (first, last, " ".join(words)) or (sw and sw[-1] == last and len(words) > 1) or \
                            (len(s) >= 3 and " " not in s and first.startswith(s) and len(words) > 1):
                        canonical = s
                        break
            if canonical is None:
                canonical = full
            forms.setdefault(full, canonical)
            if age is not None:
                ages.setdefault(canonical, age)
            if len(words) > 1 and not any(w in lx.people for w in words):   # a role has no alias
                for w in (words[0], words[-1]):
                    if len(w) >= 3 and w not in lx.not_aliases and w not in lx.people:
                        add(w, canonical)
            if " ".join(words) != full and words:
                add(" ".join(words), canonical)
        for s in speakers:   # a speaker's own multi-word name: its first word names it too
            words = _name_words(s, lx)
            if len(words) > 1 and len(words[0]) >= 3 and words[0] not in lx.not_aliases \
                    and not any(w in lx.people for w in words) and words[1] not in lx.not_aliases:
                add(words[0], s)
            if " ".join(words) != s and words:
                add(" ".join(words), s)
        for f in ambiguous:
            if forms.get(f) != f:
                forms.pop(f, None)
        names = sorted(set(forms.values()))
        alts = sorted(forms, key=lambda f: (-len(f), f))
        pattern = re.compile(r"(?<![\w'’-])(?:" + "|".join(re.escape(f) for f in alts) + r")(?![\w-])", re.I) \
            if alts else None
        words = frozenset(w for n in [*speakers, *intros] for w in _name_words(n, lx) if len(w) >= 3)
        return cls(names=names, forms=forms, ages=ages, pattern=pattern, name_words=words)

    def mentions(self, text: str) -> list[tuple[int, str]]:
        """(offset, canonical name) for every character the text names (capital initial required)."""
        if self.pattern is None:
            return []
        out = []
        for m in self.pattern.finditer(text):
            if m.group(0)[:1].isupper():
                name = self.forms.get(m.group(0).upper())
                if name is not None:
                    out.append((m.start(), name))
        return out

    def describe(self) -> list[dict[str, Any]]:
        by: dict[str, list[str]] = {}
        for form, name in self.forms.items():
            by.setdefault(name, []).append(form)
        return [{"name": n, "aliases": sorted(f for f in by.get(n, []) if f != n), "age": self.ages.get(n)}
                for n in self.names]


def _line_of(el: dict[str, Any], offset: int) -> int:
    return int(el["span"]["start_line"]) + el["text"].count("\n", 0, offset)


def _determined(before: str, lx: Lists) -> bool:
    """A determiner right before the run, or a determiner and one adjective ("the brass KEY")."""
    words = re.findall(r"[\w'’-]+|[^\w\s]", before[-40:])
    if not words or not words[-1][:1].isalnum():
        return False
    if words[-1].upper() in lx.determiners:
        return True
    return len(words) >= 2 and words[-1].upper() in lx.adjectives and words[-2].upper() in lx.determiners


def _prop_candidate(words: list[str], lx: Lists, registry: "Registry") -> bool:
    """A capitalised run that can be a prop: short, no acronym with stops, no person's word, no
    body part or place, no word of a character's name."""
    if not 1 <= len(words) <= 3 or " ".join(words) in lx.not_props or words[-1] in lx.not_props:
        return False
    for w in words:
        core = w.strip(",.;:!?")
        if "." in core or core in lx.people or core in registry.name_words:
            return False
        if len(core) > 4 and core.endswith(("MAN", "MEN")):
            return False
    return True


def _category(phrase: str, lx: Lists) -> str | None:
    key = fold_term(phrase)
    head = key.split()[-1] if key else ""
    for cat in CATEGORY_ORDER:
        f = lx.folded.get(cat)
        if f and (key in f or head in f):
            return cat
    return None


def scene_cast(elements: list[dict[str, Any]], registry: Registry, data: dict[str, Any]) -> dict[str, Any]:
    """``{"cast": [...], "speakers": [...], "breakdown": {category: [...]}}`` of one scene (file lines)."""
    lx = lists(data)
    cast: dict[str, dict[str, Any]] = {}
    speakers: list[str] = []
    found: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in BREAKDOWN_KEYS}

    def person(name: str, line: int, *, speaks: bool = False, voice: str | None = None, shown: bool = False) -> None:
        c = cast.get(name)
        if c is None:
            c = cast[name] = {"name": name, "line": line, "speaks": False, "on_screen": False}
        c["line"] = min(c["line"], line)
        if speaks:
            c["speaks"] = True
        if shown or (speaks and voice not in ("vo", "device")):
            c["on_screen"] = True

    def tag(cat: str, item: str, line: int, source: str, **extra: Any) -> None:
        key = fold_term(item)
        cur = found[cat].get(key)
        if cur is None:
            found[cat][key] = {"item": item, "line": line, "source": source, **extra}
        elif extra.get("singled_out"):
            cur["singled_out"] = True

    for el in elements:
        k = el["kind"]
        line = int(el["span"]["start_line"])
        if k == "character":
            for n in el.get("names") or []:
                name = normalize_character(n)[0]
                if name:
                    person(name, line, speaks=True, voice=el.get("voice"))
                    if name not in speakers:
                        speakers.append(name)
            continue
        if k not in _SCANNED:
            continue
        text = clean(el.get("subject") or el["text"]) if k == "slug" else clean(el["text"])
        shown: list[str] = []
        for off, name in registry.mentions(text):
            person(name, _line_of(el, off), shown=True)
            if name not in shown:
                shown.append(name)
        if shown:
            el["cast"] = sorted(shown)   # who this element shows: the subjects of its shot
        if k == "parenthetical":
            continue
        el_props: list[str] = []
        el_sounds: list[str] = []
        # listed words, any case: non-overlapping, longest first
        for h, cat in listed(text, lx):
            tag(cat, h.text.lower() if not h.text.isupper() else h.text, _line_of(el, h.start), "words")
        # capitalised runs
        for run in runs(text, lx):
            words = run.text.upper().split()
            line_r = _line_of(el, run.start)
            if registry.mentions(run.text) or all(w in lx.camera or w in lx.emphasis for w in words):
                continue   # a person (named above), or a camera word or an emphasis
            if any(fold_term(w) in lx.folded.get("sound", frozenset()) or _ONOMATOPOEIA.search(w) for w in words) \
                    or (len(words) == 1 and words[0].endswith("ING")):   # BUZZING, SQUEAKING: a sound
                tag("sound", run.text, line_r, "caps")
                el_sounds.append(run.text)
                continue
            cat = _category(run.text, lx)
            people = any(w in lx.people for w in words)
            if cat is None and people:
                age, introduced = _age(text[run.end:run.end + 48])
                if introduced:
                    name = " ".join(words)
                    person(registry.forms.get(name, name), line_r, shown=True)
                    el.setdefault("cast", [])
                    if registry.forms.get(name, name) not in el["cast"]:
                        el["cast"] = sorted([*el["cast"], registry.forms.get(name, name)])
                    if age is not None and age < lx.adult_age:
                        tag("minors", name, line_r, "caps", age=age)
                    continue
                cat = "background"
            if cat is None and _determined(text[:run.start], lx) and _prop_candidate(words, lx, registry):
                cat = "props"
            if cat is None:
                continue
            if cat == "props" and not found["props"].get(fold_term(run.text), {}).get("singled_out"):
                el_props.append(run.text)
            tag(cat, run.text, line_r, "caps", **({"singled_out": True} if cat == "props" else {}))
            if any(w in lx.minor_words for w in words):
                tag("minors", run.text, line_r, "caps")
        if el_props:
            el["props"] = el_props      # what the action singles out here first: an insert each
        if el_sounds:
            el["sounds"] = el_sounds    # sounds written in capitals: the shot's audio
    for name, c in cast.items():
        age = registry.ages.get(name)
        if age is not None:
            c["age"] = age
            if age < lx.adult_age:
                tag("minors", name, c["line"], "age", age=age)
    for key, item in list(found["background"].items()):
        if any(w in lx.minor_words for w in item["item"].upper().split()):
            tag("minors", item["item"], item["line"], "words")
    out_cast = list(cast.values())   # in order of first appearance
    for c in out_cast:
        c["voice_only"] = c["speaks"] and not c["on_screen"]
    breakdown = {k: sorted(v.values(), key=lambda x: (x["line"], fold_term(x["item"]))) for k, v in found.items()}
    return {"cast": out_cast, "speakers": speakers, "breakdown": breakdown}
