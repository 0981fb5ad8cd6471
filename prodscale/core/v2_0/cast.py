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

import functools
import re
from dataclasses import dataclass, field
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
    r"^\s*(?:\(\s*(?:age\s+)?(?P<p>\d{1,3})(?:\s*-\s*\d{1,3})?\s*(?:s|'s)?\s*[,)]"
    r"|\(\s*(?P<teen>(?:early |mid |late |mid-)?teens)\s*\)"
    r"|\(\s*(?P<desc>[^()]{1,40})\)"
    r"|,\s*(?:age[d]?\s+|also\s+|now\s+)?(?P<c>\d{1,3})(?:s|'s)?\b"
    r"|,\s*(?:age[d]?|also|now)\s+(?P<w>[a-z]+)\b"
    r"|,\s*(?:a|an|the|his|her|late|early|mid)\b)", re.I)
# a surname or a nickname in lower case between the name in capitals and its age:
# "ANDREW Detmer, 17", "STEVE “Kaz” Kazinsky, 17"
_NAME_GAP = re.compile(r"^(?:\s+(?:[“\"'‘][^”\"'’]{1,20}[”\"'’]|[A-Z][a-z][\w'’-]*)){1,3}(?=\s*[,(])")
_YEAR_OLD = re.compile(r"\b(?P<n>\d{1,2}|[a-z]+)[- ]years?[- ]old\b", re.I)
_DECADE = re.compile(r"\b(?:early|mid|late|mid-)?\s*(?P<d>twenties|thirties|forties|fifties|sixties|seventies|eighties|"
                     r"nineties)\b", re.I)
_DECADES = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70,
            "eighties": 80, "nineties": 90}
_NOT_INTRO = {"VO", "OS", "OC", "CONTD", "CONT", "MORE", "CONTINUED", "CONTINUING", "BEAT"}


@dataclass(frozen=True, eq=False)
class Lists:
    """``breakdown.toml`` compiled once per rule data."""

    honorifics: frozenset[str]
    not_aliases: frozenset[str]
    people: frozenset[str]
    minor_words: frozenset[str]
    grown_words: frozenset[str]        # a minor word with one of these is a grown-up ("SEXY GIRL")
    adult_age: int
    categories: dict[str, list[str]]
    folded: dict[str, frozenset[str]]
    phrases: dict[tuple[str, ...], str]   # folded words of a listed phrase -> its (first) category
    longest: int
    firsts: dict[str, int]             # a phrase's first word -> the longest phrase it starts (the scan's skip)
    camera: frozenset[str]
    emphasis: frozenset[str]
    ignore: tuple[str, ...]
    skip: frozenset[str]               # camera words and emphases (what a run's ends shed)
    determiners: frozenset[str]
    adjectives: frozenset[str]
    not_props: frozenset[str]          # body parts and places: framed or a set, never a prop
    qualifiers: frozenset[str]         # YOUNG, OLD, LITTLE, ...: YOUNG EDWARD is not EDWARD
    body: frozenset[str]               # body parts: "Walt's hands" shows Walt
    worn: frozenset[tuple[str, ...]]   # wardrobe words, folded


@per_rule_data
def lists(data: dict[str, Any]) -> Lists:
    cats = {k: list(data["categories"][k]) for k in CATEGORY_ORDER if k in data["categories"]}
    words = data["words"]
    camera = frozenset(w.upper() for w in words["camera"])
    emphasis = frozenset(w.upper() for w in words["emphasis"])
    phrases: dict[tuple[str, ...], str] = {}
    for term in words.get("not_elements", []):
        phrases.setdefault(tuple(_words(fold_term(term))), "")   # consumed, tagged as nothing
    for cat in CATEGORY_ORDER:
        for term in cats.get(cat, []):
            phrases.setdefault(tuple(_words(fold_term(term))), cat)
    return Lists(
        phrases=phrases, longest=max((len(k) for k in phrases), default=1), firsts=_firsts(phrases),
        honorifics=frozenset(w.upper().rstrip(".") for w in data["cast"]["honorifics"]),
        not_aliases=frozenset(w.upper().rstrip(".") for w in data["cast"]["not_aliases"]),
        people=frozenset(w.upper() for w in data["cast"]["people"]),
        minor_words=frozenset(w.upper() for w in data["minors"]["words"]),
        grown_words=frozenset(w.upper() for w in data["minors"].get("not_with", [])),
        adult_age=int(data["minors"]["adult_age"]),
        categories=cats,
        folded={k: frozenset(fold_term(t) for t in v) for k, v in cats.items()},
        camera=camera, emphasis=emphasis, ignore=tuple(sorted(camera | emphasis)), skip=camera | emphasis,
        determiners=frozenset(w.upper() for w in words["determiners"]),
        adjectives=frozenset(w.upper() for w in words["adjectives"]),
        not_props=frozenset(w.upper() for w in [*words["body"], *words["places"]]),
        qualifiers=frozenset(w.upper() for w in data["cast"]["qualifiers"]),
        body=frozenset(w.upper() for w in words["body"]),
        worn=frozenset(tuple(_words(fold_term(w))) for w in data["categories"].get("wardrobe", [])),
    )


def _firsts(phrases: dict[tuple[str, ...], str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in phrases:
        if key:
            out[key[0]] = max(out.get(key[0], 0), len(key))
    return out


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
        longest = lx.firsts.get(toks[i][2])
        if longest is None:   # no listed phrase starts with this word
            i += 1
            continue
        for n in range(min(longest, len(toks) - i), 0, -1):
            cat = lx.phrases.get(tuple(t[2] for t in toks[i:i + n]))
            if cat is not None:
                start, end = toks[i][0], toks[i + n - 1][1]
                if cat and not _simile(toks, i):
                    out.append((Hit(start, end, text[start:end]), cat))
                i += n
                break
        else:
            i += 1
    return out


def _minor_words(words: list[str], lx: Lists) -> bool:
    """Words that name a child (GIRL, KIDS), with none that makes them grown-ups (SEXY GIRL, COOL KIDS)."""
    return any(w in lx.minor_words for w in words) and not any(w in lx.grown_words for w in words)


def _simile(toks: list[tuple[int, int, str]], i: int) -> bool:
    """"like a zombie", "like two teenagers", "as if a ghost": a comparison, not a thing in the scene."""
    before = [t[2] for t in toks[max(0, i - 3):i]]
    return "like" in before[-2:] or before[-3:-1] == ["as", "if"] or before[-2:] == ["as", "though"]


@functools.lru_cache(maxsize=4096)
def _caps_runs(text: str) -> tuple[Hit, ...]:
    """A text's runs of capitals, found once: the registry, a scene's cast and its introductions all ask."""
    return tuple(caps_runs(text))


def runs(text: str, lx: Lists) -> list[Hit]:
    """Runs of capitals with the camera words and emphases at their ends trimmed off ("AN RV" ->
    "RV", "TILT DOWN" -> nothing); words inside a run stay ("WALTER WHITE")."""
    out: list[Hit] = []
    for run in _caps_runs(text):
        parts = [(m.start(), m.end()) for m in re.finditer(r"\S+", run.text)]
        skip = lx.skip
        while parts and run.text[parts[0][0]:parts[0][1]].upper().strip(",.;:!?") in skip:
            parts.pop(0)
        while parts and (run.text[parts[-1][0]:parts[-1][1]].upper().strip(",.;:!?") in lx.camera
                         or run.text[parts[-1][0]:parts[-1][1]].upper().strip(",.;:!?") in _TRAILING):
            parts.pop()   # "TILT DOWN", "TOP OF THE": a camera word or a dangling article ends no thing
        if parts:
            start, end = run.start + parts[0][0], run.start + parts[-1][1]
            out.append(Hit(start, end, text[start:end]))
    return out


_ARTICLES = ("A", "AN", "THE")
_TRAILING = frozenset({"A", "AN", "THE", "OF", "TO", "IN", "ON", "AT", "AND", "OR", "WITH", "FROM", "FOR", "BY"})


def intro_runs(text: str, lx: Lists) -> list[Hit]:
    """Runs that may introduce a character: a run right before "(" is one as written (``BIG (40s)``,
    ``A YOUNG WOMAN (20s)`` without its article); others as :func:`runs` trims them."""
    out: list[Hit] = []
    for run in _caps_runs(text):
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


_KIN = frozenset({"MR", "MRS", "MS", "MISS", "SIR", "LADY", "LORD", "AUNT", "UNCLE", "GRANDMA", "GRANDPA", "FATHER",
                  "MOTHER", "SISTER", "BROTHER", "KING", "QUEEN", "PRINCE", "PRINCESS", "DUKE", "COUNT", "BARON"})


def _kin(name: str, lx: Lists) -> frozenset[str]:
    """The honorifics that tell people apart (MR. SMITH is not MRS. SMITH; DR. and CAPT. do not)."""
    return frozenset(w.strip(".,") for w in name.upper().split()) & _KIN


def _name_words(name: str, lx: Lists) -> list[str]:
    words = [w.strip(",;:") for w in name.upper().split()]
    return [w for w in words if w and w.rstrip(".") not in lx.honorifics]


def _age(after: str) -> tuple[int | None, bool]:
    """(age, introduced) from the text right after a capitalised run: ``(30s)``, ``, 17``,
    ``, AGE 3``, ``(12-14)``, ``, now 28``, ``(mid-thirties)``, ``, a nurse``; a surname or a
    nickname may stand between (``ANDREW Detmer, 17``). ``(CONT'D)``, ``(V.O.)`` introduce no one."""
    m = _AGE_AFTER.match(after)
    if m is None:
        gap = _NAME_GAP.match(after)
        if gap is None:
            return None, False
        m = _AGE_AFTER.match(after[gap.end():])
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
        d = _DECADE.search(desc)
        if d:
            return _DECADES[d.group("d").lower()], True
        key = re.sub(r"[\s.'’]+", "", desc.upper())
        return None, key not in _NOT_INTRO and not key.startswith(("CONT", "MORE"))
    return None, True


@dataclass
class Registry:
    """The story's characters: canonical names, every form that names each, ages."""

    names: list[str]
    forms: dict[str, str]              # upper-cased form -> canonical name
    ages: dict[str, int]
    pattern: re.Pattern[str] | None
    name_words: frozenset[str]         # every word of every name, ambiguous ones too: never a prop
    intro_ages: list[tuple[int, str, int]] = field(default_factory=list)   # (scene position, name, age)

    @classmethod
    def build(cls, scenes: list[list[dict[str, Any]]], data: dict[str, Any]) -> Registry:
        lx = lists(data)
        speakers: list[str] = []
        intros: dict[str, int | None] = {}
        intro_ages: list[tuple[int, str, int]] = []   # (scene position, name as introduced, age)
        for pos, elements in enumerate(scenes):
            for el in elements:
                if el["kind"] == "character":
                    for n in el.get("names") or []:
                        name = normalize_character(n)[0]
                        if name and name not in speakers:
                            speakers.append(name)
                elif el["kind"] == "action":
                    text = clean(el["text"])
                    for run in intro_runs(text, lx):
                        age, introduced = _age(text[run.end:run.end + 64])
                        if not introduced:
                            continue
                        words = _name_words(run.text, lx)
                        if not words or (age is None and _category(run.text, lx) is not None):
                            continue   # "AN RV, rusting": a thing, not a person
                        name = " ".join(run.text.upper().split())
                        if name not in intros or (intros[name] is None and age is not None):
                            intros[name] = age
                        if age is not None:
                            intro_ages.append((pos, name, age))
        forms: dict[str, str] = {}
        ambiguous: set[str] = set()

        def add(form: str, canonical: str) -> None:
            if form in forms and forms[form] != canonical:
                ambiguous.add(form)
            forms.setdefault(form, canonical)

        def alias_ok(w: str) -> bool:
            return (len(w) >= 3 and any(c.isalpha() for c in w) and "#" not in w and not w.endswith(("'S", "’S"))
                    and w not in lx.not_aliases and w not in lx.people and w not in lx.camera
                    and w not in lx.emphasis and w not in lx.not_props and (fold_term(w),) not in lx.phrases)

        def qualifiers(words: list[str]) -> set[str]:
            return {w for w in words if w in lx.qualifiers}

        stripped: dict[str, str] = {}
        for s in speakers:
            key = " ".join(_name_words(s, lx))
            same = stripped.get(key)
            if same is not None and _kin(same, lx) == _kin(s, lx):
                forms[s] = forms[same]   # DR. RUMACK and RUMACK, CAPT. MATHEWS and CAPTAIN MATHEWS: one person
                continue
            forms[s] = s
            stripped.setdefault(key, s)
        ages: dict[str, int] = {}
        for full, age in intros.items():   # in story order: the first age given is the base age
            words = _name_words(full, lx)
            key = " ".join(words)
            canonical = forms.get(full) or stripped.get(key) or forms.get(key)
            if canonical is None and words:
                first, last = words[0], words[-1]
                for s in speakers:
                    sw = _name_words(s, lx)
                    if not sw or qualifiers(sw) != qualifiers(words):
                        continue   # YOUNG DR. BENNETT is not DR. BENNETT
                    if s == first or (s == last and alias_ok(last)) or \
                            (sw[-1] == last and len(words) > 1 and alias_ok(last)) or \
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
                    if alias_ok(w):
                        add(w, canonical)
            if key != full and words:
                add(key, canonical)
        for s in speakers:   # a speaker's own multi-word name: its first word names it too
            words = _name_words(s, lx)
            plain = not any(w in lx.people or w in ("BUT", "THOUGHTS", "VOICE", "VOICES") for w in words)
            if len(words) > 1 and plain and alias_ok(words[0]) and words[1] not in lx.not_aliases:
                add(words[0], s)
            if " ".join(words) != s and words:
                add(" ".join(words), s)   # DR. RUMACK is RUMACK in the action
        for f in ambiguous:
            if forms.get(f) != f:
                forms.pop(f, None)
        names = sorted(set(forms.values()))
        alts = sorted(forms, key=lambda f: (-len(f), f))
        pattern = re.compile(r"(?<![\w'’-])(?:" + "|".join(re.escape(f) for f in alts) + r")(?![\w-])", re.I) \
            if alts else None
        name_words = frozenset(w for n in [*speakers, *intros] for w in _name_words(n, lx) if len(w) >= 3)
        timeline = [(pos, forms.get(name, name), age) for pos, name, age in intro_ages]
        return cls(names=names, forms=forms, ages=ages, pattern=pattern, name_words=name_words, intro_ages=timeline)

    def canonical(self, cue_name: str) -> str:
        """The character a cue's name (as written) is."""
        name = normalize_character(cue_name)[0]
        return self.forms.get(name, name)

    def ages_at(self, pos: int) -> dict[str, int]:
        """Each character's age as of scene ``pos``: the latest age given in or before it (WILL, 3, in
        the prologue; WILL, now 28, later), else the first age given at all."""
        out = dict(self.ages)
        for p, name, age in self.intro_ages:
            if p <= pos:
                out[name] = age
        return out

    def mentions(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, canonical name) for every character the text names (capital initial required)."""
        if self.pattern is None:
            return []
        out = []
        for m in self.pattern.finditer(text):
            if m.group(0)[:1].isupper():
                name = self.forms.get(m.group(0).upper())
                if name is not None:
                    out.append((m.start(), m.end(), name))
        return out

    def describe(self) -> list[dict[str, Any]]:
        by: dict[str, list[str]] = {}
        for form, name in self.forms.items():
            by.setdefault(name, []).append(form)
        return [{"name": n, "aliases": sorted(f for f in by.get(n, []) if f != n), "age": self.ages.get(n)}
                for n in self.names]


def _line_of(el: dict[str, Any], offset: int) -> int:
    return int(el["span"]["start_line"]) + int(str(el["text"]).count("\n", 0, offset))


def _determined(before: str, lx: Lists) -> bool:
    """A determiner right before the run, or a determiner and one adjective ("the brass KEY")."""
    words = re.findall(r"[\w'’-]+|[^\w\s]", before[-40:])
    if not words or not words[-1][:1].isalnum():
        return False
    if words[-1].upper() in lx.determiners:
        return True
    return len(words) >= 2 and words[-1].upper() in lx.adjectives and words[-2].upper() in lx.determiners


_ADJECTIVE_END = re.compile(r"(?:IVE|OUS|FUL|ABLE|IBLE|LESS|ISH)$")
_PRONOUNS = frozenset({"THEM", "HIM", "HER", "IT", "ME", "US", "YOU"})
_LOWER_NEXT = re.compile(r" ([a-z][a-z'’-]*)\b")


def _modifier_of_next(text: str, end: int, words: list[str]) -> bool:
    """Capitals that qualify the word after them (an adjective's ending, or two letters), or end on a pronoun,
    are no thing to insert: "a MASSIVE firefight", "a TRULY HORRIBLE person", "the LA actor", "a TON OF THEM"."""
    last = words[-1].strip(",.;:!?")
    if last in _PRONOUNS:
        return True
    if not _LOWER_NEXT.match(text, end):
        return False
    return bool(_ADJECTIVE_END.search(last)) or len(last) <= 2


def _prop_candidate(words: list[str], lx: Lists, registry: Registry) -> bool:
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


_QUOTED = re.compile(r"[\"“][^\"”]*[\"”]")


_NEXT_WORD = re.compile(r"['’][sS]\s+([\w-]+)(?:\s+([\w-]+))?")


def _present_mentions(text: str, registry: Registry, lx: Lists) -> list[tuple[int, str]]:
    """The characters a text shows: a name alone, or a possessive of the body or of what one wears
    ("Walt's hands", "Nell's coat" on her); not another possessive ("Krazy-8's cash" names whose cash it
    is) nor a name inside quotes (a sign, a card, a headline)."""
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    out = []
    for start, end, name in registry.mentions(text):
        if any(a <= start < b for a, b in quoted):
            continue
        if text[end:end + 2].lower() in ("'s", "’s"):
            m = _NEXT_WORD.match(text, end)
            words = [w.upper() for w in (m.groups() if m else ()) if w]   # "Walt's eyes", "Walt's left hand"
            if not any(w in lx.body or (fold_term(w),) in lx.worn or w in ("POV", "P.O.V.") for w in words):
                continue
        out.append((start, name))
    return out


def scene_cast(elements: list[dict[str, Any]], registry: Registry, data: dict[str, Any],
               ages: dict[str, int] | None = None) -> dict[str, Any]:
    """``{"cast": [...], "speakers": [...], "breakdown": {category: [...]}}`` of one scene (file lines);
    ``ages``: each character's age as of this scene (:meth:`Registry.ages_at`)."""
    lx = lists(data)
    ages = registry.ages if ages is None else ages
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
        for off, name in _present_mentions(text, registry, lx):
            person(name, _line_of(el, off), shown=True)
            if name not in shown:
                shown.append(name)
        if shown:
            el["cast"] = sorted(shown)   # who this element shows: the subjects of its shot
        if k == "parenthetical":
            continue
        el_props: list[str] = []
        el_sounds: list[str] = []
        quotes = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]   # signs, headlines, cards
        noted = bool(re.match(r"\s*(?:\*\*)?(?:NOTE|SUBTITLES?|TITLE|CAPTION)\b", text, re.I))
        # listed words, any case: non-overlapping, longest first
        for h, listed_cat in listed(text, lx):
            if any(a <= h.start < b for a, b in quotes):
                continue   # words in quotes are written or said ("the “cool kids”", a sign): nothing on set
            tag(listed_cat, h.text.lower() if not h.text.isupper() else h.text, _line_of(el, h.start), "words")
        # capitalised runs
        for run in runs(text, lx):
            words = run.text.upper().split()
            line_r = _line_of(el, run.start)
            if registry.mentions(run.text) or all(w in lx.camera or w in lx.emphasis for w in words):
                continue   # a person (named above), or a camera word or an emphasis
            if any(fold_term(w.strip(",.;:!?")) in lx.folded.get("sound", frozenset()) or _ONOMATOPOEIA.search(w)
                   for w in words):
                tag("sound", run.text, line_r, "caps")
                el_sounds.append(run.text)
                continue
            if len(words) == 1 and words[0].strip(",.;:!?").endswith("ING"):
                continue   # BLINKING, PANNING: a verb written large, neither a sound nor a thing
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
            quoted = any(a <= run.start < b for a, b in quotes)
            if cat is None and not quoted and not noted and _determined(text[:run.start], lx) \
                    and _prop_candidate(words, lx, registry) and not _modifier_of_next(text, run.end, words):
                cat = "props"
            if cat is None:
                continue
            if cat == "props" and not found["props"].get(fold_term(run.text), {}).get("singled_out"):
                el_props.append(run.text)
            tag(cat, run.text, line_r, "caps", **({"singled_out": True} if cat == "props" else {}))
            if _minor_words(words, lx):
                tag("minors", run.text, line_r, "caps")
        if el_props:
            el["props"] = el_props      # what the action singles out here first: an insert each
        if el_sounds:
            el["sounds"] = el_sounds    # sounds written in capitals: the shot's audio
    for name, c in cast.items():
        age = ages.get(name)
        if age is not None:
            c["age"] = age
            if age < lx.adult_age:
                tag("minors", name, c["line"], "age", age=age)
    for _key, item in list(found["background"].items()):
        if _minor_words(item["item"].upper().split(), lx):
            tag("minors", item["item"], item["line"], "words")
    out_cast = list(cast.values())   # in order of first appearance
    for c in out_cast:
        c["voice_only"] = c["speaks"] and not c["on_screen"]
    breakdown = {k: sorted(v.values(), key=lambda x: (x["line"], fold_term(x["item"]))) for k, v in found.items()}
    return {"cast": out_cast, "speakers": speakers, "breakdown": breakdown}
