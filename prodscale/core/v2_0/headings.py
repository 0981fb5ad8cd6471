"""Engine 2.0.0: a scene heading read the way a crew reads it.

``INT. VICTOR'S FLAT - BASEMENT LAB - NIGHT (1985)`` is INT, set VICTOR'S FLAT, area BASEMENT LAB,
light NIGHT, modifier 1985. The text after the INT/EXT prefix is cut into segments at the
separators of ``reading.toml [heading]`` (dashes, commas, slashes) and every segment is classified on
its own, so the light is found wherever it stands (``INT. SAN FRANCISCO APARTMENT, DAY``,
``EXT. ROAD - DAY - FLASHBACK``), and a segment that is no time word is part of the place. Bracketed
and parenthesized groups are modifiers (``[THE STORM]``, ``(FLASHBACK)``).

Place pieces go from the biggest to the smallest: ``BUILDING - ROOM``. A room word first reverses
that order (``HALLWAY, SCOTT'S APARTMENT BUILDING`` and ``BATHROOM - DEXTER'S APARTMENT``: the
building or the apartment is the set, the room its area), the way writers put a room before the
building it is in; otherwise a comma stays inside its place (``PEARSON, HARDMAN LAW FIRM``). A
bracketed group that is no time word stays in the place (``A.P. NEWSROOM (PARIS)``).

Pure: the classification reads only the rule data it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from prodscale.core.stages._text import per_rule_data

_SPACES = re.compile(r"\s+")
_GROUPS = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
_EDGE = " .:;"
# a hyphen separates with a space on either side ("BEDSIT- NIGHT"; X-RAY LAB is one name); "--" and
# dashes always
_DASHES = re.compile(r"\s*(?:(?<=\s)-|-(?=\s)|--|–|—|\s/\s)\s*")


def norm(text: str) -> str:
    """Upper-cased, whitespace collapsed, trailing punctuation dropped: how headings are compared."""
    return _SPACES.sub(" ", text.upper()).strip(_EDGE).strip()


@dataclass(frozen=True, eq=False)   # hashed by identity: one per rule data
class Vocabulary:
    """``reading.toml [heading]`` compiled once per rule data."""

    split: re.Pattern[str]
    lights: dict[str, str]
    light_words: tuple[str, ...]           # multi-word lights first
    qualifiers: frozenset[str]
    continuations: frozenset[str]
    simultaneous: frozenset[str]
    time_jumps: frozenset[str]
    time_jump_re: re.Pattern[str]
    modifiers: frozenset[str]
    year_re: re.Pattern[str]
    rooms: frozenset[str]
    buildings: frozenset[str]
    weekday_re: re.Pattern[str]
    shot_starts: tuple[str, ...]
    shot_contains: tuple[str, ...]
    clock_re: re.Pattern[str]
    clock_day: tuple[int, int]


@per_rule_data
def vocabulary(data: dict[str, Any]) -> Vocabulary:
    h = data["heading"]
    seps = sorted(h["separators"], key=lambda s: (-len(s), s))
    alts = []
    for s in seps:
        core = s.strip()
        # a hyphen needs spaces around it (EXT. X-RAY LAB is one name); other marks need none
        alts.append(re.escape(s) if core == "-" else r"\s*" + re.escape(core) + r"\s*")
    lights = {norm(k): str(v).upper() for k, v in h["lights"].items()}
    return Vocabulary(
        split=re.compile("|".join(alts)),
        lights=lights,
        light_words=tuple(sorted(lights, key=lambda w: (-len(w.split()), w))),
        qualifiers=frozenset(norm(w) for w in h["light_qualifiers"]),
        continuations=frozenset(norm(w) for w in h["continuations"]),
        simultaneous=frozenset(norm(w) for w in h["simultaneous"]),
        time_jumps=frozenset(norm(w) for w in h["time_jumps"]),
        time_jump_re=re.compile(h["time_jump_pattern"]),
        modifiers=frozenset(norm(w) for w in h["modifiers"]),
        year_re=re.compile(h["year_pattern"]),
        rooms=frozenset(norm(w) for w in h.get("rooms", [])),
        buildings=frozenset(norm(w) for w in h.get("buildings", [])),
        weekday_re=re.compile(h["weekday_pattern"]),
        shot_starts=tuple(norm(w) for w in h.get("shot_starts", [])),
        shot_contains=tuple(w.upper() for w in data["slug"]["contains"]),
        clock_re=re.compile(h["clock_pattern"]),
        clock_day=(int(h["clock_day_from"]), int(h["clock_night_from"])),
    )


_HOUR_WORDS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5, "SIX": 6, "SEVEN": 7, "EIGHT": 8, "NINE": 9,
               "TEN": 10, "ELEVEN": 11, "TWELVE": 12, "NOON": 12, "MIDNIGHT": 0}


def clock_light(seg: str, v: Vocabulary) -> str | None:
    """DAY or NIGHT for a clock time ("9:30 AM", "THREE FIFTY FIVE PM", "0600 HOURS"), else None."""
    m = v.clock_re.match(seg)
    if m is None:
        return None
    if m.group("hhmm"):
        hour = int(m.group("hhmm")[:2])
    elif m.group("min") or m.group("ampm") or m.group("hour") in ("NOON", "MIDNIGHT"):
        raw = m.group("hour")
        hour = int(raw) if raw.isdigit() else _HOUR_WORDS[raw]
    else:
        return None   # "747", "12": a number, not a time
    if hour > 24:
        return None
    ampm = (m.group("ampm") or "").replace(".", "")
    if ampm == "PM" and hour < 12:
        hour += 12
    elif ampm == "AM" and hour == 12:
        hour = 0
    return "DAY" if v.clock_day[0] <= hour < v.clock_day[1] else "NIGHT"


@dataclass
class HeadingReading:
    """What a heading says. ``light`` is the light it names itself (None: it names none, e.g. a
    continuation, resolved later by :mod:`prodscale.core.v2_0.reading`)."""

    int_ext: str | None
    set: str | None
    area: str | None
    light: str | None
    day_night: str | None
    continuation: str | None
    time_jump: str | None
    modifiers: list[str] = field(default_factory=list)
    time_words: list[str] = field(default_factory=list)   # the time segments as written, in order
    shot: str | None = None    # "INT. HOSPITAL - ANGLE - SGT. MCCOBB - DAY": a shot the heading asks for

    @property
    def location(self) -> str | None:
        return " - ".join(x for x in (self.set, self.area) if x) or None


def _light_in(seg: str, v: Vocabulary) -> str | None:
    """The light a segment names, when all its other words qualify it ("LATER THAT NIGHT")."""
    if seg in v.lights:
        return seg
    words = seg.split()
    for light in v.light_words:
        lw = light.split()
        for i in range(len(words) - len(lw) + 1):
            if words[i:i + len(lw)] == lw:
                rest = words[:i] + words[i + len(lw):]
                if all(w in v.qualifiers or v.year_re.match(w) for w in rest):
                    return light
    return None


def classify(seg: str, v: Vocabulary) -> tuple[str, str]:
    """(kind, value) of one normalized segment: light, continuation, jump, modifier or place."""
    if seg in v.continuations:
        return "continuation", seg
    if seg in v.time_jumps or v.time_jump_re.match(seg) or v.weekday_re.match(seg):
        light = _light_in(seg, v)
        return ("jump+light", light) if light else ("jump", seg)
    if seg in v.modifiers or v.year_re.match(seg):
        return "modifier", seg
    light = _light_in(seg, v)
    if light is None and clock_light(seg, v) is not None:
        return "clock", seg
    if light is not None:
        words = set(seg.split())
        if words & {"NEXT", "FOLLOWING"}:
            return "jump+light", light
        if words & {"LATER", "EARLIER"}:
            return "continuation+light", light
        return "light", light
    return "place", seg


def _building(place: str, v: Vocabulary) -> bool:
    u = norm(place)
    return bool(re.search(r"['’]S\b", u)) or any(w in v.buildings for w in u.split())


@lru_cache(maxsize=8192)
def _read(rest: str, int_ext: str | None, v: Vocabulary) -> HeadingReading:
    mods: list[str] = []

    def group(m: re.Match[str]) -> str:
        inner = norm(m.group(1) if m.group(1) is not None else m.group(2))
        if inner and m.group(1) is not None and classify(inner, v)[0] == "place":
            return m.group(0)   # "A.P. NEWSROOM (PARIS)": part of the place; [THE STORM] is a modifier
        if inner:
            mods.append(inner)
        return " — "   # a separator: what stood before and after are separate segments

    body = _GROUPS.sub(group, rest)
    out = HeadingReading(int_ext=int_ext, set=None, area=None, light=None, day_night=None, continuation=None,
                         time_jump=None)
    places: list[str] = []
    for dash_seg in _DASHES.split(body):
        pieces = [norm(p) for p in v.split.split(dash_seg)]
        seg_places: list[str] = []
        for raw, seg in zip(v.split.split(dash_seg), pieces, strict=False):
            if not seg:
                continue
            kind, value = classify(seg, v)
            if kind == "place":
                seg_places.append(_SPACES.sub(" ", raw.strip(_EDGE).strip()))
                continue
            out.time_words.append(seg)
            if "light" in kind and out.light is None:
                out.light = value
            if kind == "clock" and out.light is None:
                out.light, out.day_night = value, clock_light(value, v)
            if kind.startswith("continuation") and out.continuation is None:
                out.continuation = (("EARLIER" if "EARLIER" in seg.split() else "LATER")
                                    if kind == "continuation+light" else value)
            if kind.startswith("jump") and out.time_jump is None:
                out.time_jump = seg
            if kind == "modifier":
                mods.append(value)
        if len(seg_places) > 1 and norm(seg_places[0]) in v.rooms and norm(seg_places[-1]) not in v.rooms:
            seg_places.reverse()   # "HALLWAY, SCOTT'S BUILDING": the building is the set
            places.extend(seg_places)
        elif len(seg_places) > 1 and norm(seg_places[-1]) in v.rooms:
            places.extend(seg_places)   # "JOE'S DINER, BACK ROOM": the diner, its back room
        elif seg_places:
            places.append(", ".join(seg_places))   # "PEARSON, HARDMAN LAW FIRM" is one place
    if len(places) > 1 and norm(places[0]) in v.rooms and norm(places[1]) not in v.rooms and _building(places[1], v):
        places[0], places[1] = places[1], places[0]   # "BATHROOM - DEXTER'S APARTMENT": the apartment is the set
    for m in list(mods):
        kind, value = classify(m, v)
        if kind != "modifier" and kind != "place":
            mods.remove(m)   # "(NIGHT)", "(CONTINUOUS)": a time word in brackets is still the time
            out.time_words.append(m)
            if "light" in kind and out.light is None:
                out.light = value
            if kind.startswith("continuation") and out.continuation is None:
                out.continuation = value
            if kind.startswith("jump") and out.time_jump is None:
                out.time_jump = m
    out.modifiers = sorted(set(mods), key=mods.index)
    for k in range(1, len(places)):   # a camera direction in the heading ends the place
        u = norm(places[k])
        if any(u == w or u.startswith(w + " ") for w in v.shot_starts) or any(c in u for c in v.shot_contains):
            out.shot = " - ".join(places[k:])
            places = places[:k]
            break
    if places:
        out.set = places[0]
        out.area = " - ".join(places[1:]) or None
    if out.light is not None and out.day_night is None:
        out.day_night = v.lights.get(out.light)
    return out


def read_heading(rest: str, int_ext: str | None, data: dict[str, Any]) -> HeadingReading:
    """Read the text after a heading's prefix (``rest``) with ``reading.toml`` (``data``)."""
    r = _read(rest, int_ext, vocabulary(data))
    return HeadingReading(r.int_ext, r.set, r.area, r.light, r.day_night, r.continuation, r.time_jump,
                          list(r.modifiers), list(r.time_words), r.shot)


_SITE_STOP = frozenset({"THE", "AND", "OF", "A", "AN", "HOUSE", "ROOM", "ROAD", "STREET", "AREA", "OUTSIDE",
                        "INSIDE", "FRONT", "BACK", "NORTH", "SOUTH", "EAST", "WEST", "CITY", "TOWN", "DOWNTOWN"})


def same_site(a: str | None, b: str | None) -> bool:
    """Two headings' places share a proper word (INT. GARAGE and EXT. SOUTH LA - GARAGE HOUSE): the inside and
    the outside of one site, where a character steps through a door. Words of three letters or more, ASCII
    classes only (no interpreter's Unicode table decides)."""
    def words(x: str | None) -> set[str]:
        return {w for w in re.findall(r"[A-Z0-9'’]+", (x or "").upper()) if len(w) >= 3 and w not in _SITE_STOP}
    return bool(words(a) & words(b))
