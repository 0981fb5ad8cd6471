"""Engine 2.0.0: real people named in a text, from a sourced list (``rules/2.0.0/lists/real_people.tsv``).

A name matches as whole words, each written with a capital (``Abraham Lincoln``, ``MLK``, ``GANDHI``), accents,
case and hyphens aside; the longest name wins. A one-word name (``Lincoln``, ``Gandhi``) matches alone only
when the list marks that person's one-word names safe (``surname_alone_ok``: ``Trump``, ``Swift``, ``Jordan`` are
words or common names and need the first name or a title). A name right after a comparison, an article or an
image of the person (``like Lincoln``, ``a Lincoln``, ``a poster of Einstein``) or right before a thing named
after them or an impression (``Lincoln Memorial``, ``a Donald Trump voice``) is not the person shown.

Pure: a dictionary of word tuples built once per list, no pattern to compile.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from prodscale.core.stages._text import Hit, per_rule_data

# figures a script names by surname alone; entertainers, musicians, athletes and business people need the full name
_KNOWN_BY_SURNAME = frozenset({"head_of_state", "politician", "historical", "religious", "scientist", "writer"})
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*\.?")


def _key(word: str) -> str:
    if word.isascii():   # the same key, without decomposing (most names; building the index is per process)
        return word.rstrip(".").lower()
    decomposed = unicodedata.normalize("NFKD", word.rstrip(".").casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


def _words(name: str) -> tuple[str, ...]:
    spaced = name.replace("-", " ")
    if spaced.isascii():   # the key of an ASCII word without the per-word test (the index has 25,000 names)
        return tuple(w.rstrip(".").lower() for w in _TOKEN.findall(spaced))
    return tuple(_key(w) for w in _TOKEN.findall(spaced))


@dataclass(frozen=True, eq=False)
class NameIndex:
    names: dict[tuple[str, ...], tuple[str, str]]   # words -> (canonical name, category)
    longest: int
    firsts: dict[str, int]   # a name's first word -> the most words a name starting with it has


@per_rule_data
def name_index(rows: list[list[str]]) -> NameIndex:
    names: dict[tuple[str, ...], tuple[str, str]] = {}
    for row in rows:
        canonical, aliases, category, _year, single_ok = (row + [""] * 5)[:5]
        one_word_person = len(_words(canonical)) == 1
        for name in [canonical, *[a for a in aliases.split("|") if a]]:
            words = _words(name)
            # one word alone: a one-word name (Napoleon, Eminem), or the safe surname of a figure known by it
            # (Gandhi, Lincoln, Einstein); never a first name, never the surname of a star, who needs the full name
            single = len(words) == 1
            if not words or (single and (single_ok != "yes" or (not one_word_person
                                                              and category not in _KNOWN_BY_SURNAME))):
                continue
            names.setdefault(words, (canonical, category))
    firsts: dict[str, int] = {}
    for key in names:
        firsts[key[0]] = max(firsts.get(key[0], 0), len(key))
    return NameIndex(names, max((len(k) for k in names), default=1), firsts)


@per_rule_data
def _phrases(phrases: list[str]) -> frozenset[tuple[str, ...]]:
    return frozenset(_words(p) for p in phrases if _words(p))


def is_real_full_name(name: str, rows: list[list[str]]) -> bool:
    """``name`` (several words) is a real person's name or alias in the list."""
    return _words(name) in name_index(rows).names


def own_names(words: list[str], rows: list[list[str]]) -> list[str]:
    """The words of a story's own places and characters that a one-word real name would match (ASHTON the
    town, WINSLOW the character): in that story they are not the real person."""
    index = name_index(rows)
    return sorted({w.upper() for w in words if (_key(w),) in index.names})


def find_people(text: str, rule: dict[str, Any], rows: list[list[str]],
                own: list[str] | tuple[str, ...] = ()) -> list[tuple[Hit, dict[str, str]]]:
    """(hit, {"person", "category"}) for every real person the text names (see the module docstring);
    ``own``: one-word names that are the story's own places or characters (:func:`own_names`)."""
    index = name_index(rows)
    toks = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text.replace("-", " "))]
    # a name starts with a capitalised word that starts some name: most texts have none, and skip the rest
    if not any(t[2][:1].isupper() and _key(t[2]) in index.firsts for t in toks):
        return []
    before = _phrases(rule.get("not_before", []))
    # list entries and names that are no person to a screenplay ("Scarface" is a film first)
    excluded = frozenset(rule.get("exceptions", []))
    excluded_words = frozenset(_words(e) for e in rule.get("exceptions", []))
    mine = frozenset(_key(w) for w in own)
    after = _phrases(rule.get("not_after", []))
    keys = [_key(t[2]) for t in toks]
    out: list[tuple[Hit, dict[str, str]]] = []
    i = 0
    while i < len(toks):
        longest = index.firsts.get(keys[i])
        if longest is None or not toks[i][2][:1].isupper():
            i += 1
            continue
        run = 1   # how many tokens from i stand together, with nothing but spaces between them
        while i + run < len(toks) and run < longest and not text[toks[i + run - 1][1]:toks[i + run][0]].strip():
            run += 1
        for n in range(run, 0, -1):
            found = index.names.get(tuple(keys[i:i + n]))
            if found is None or found[0] in excluded or tuple(keys[i:i + n]) in excluded_words or \
                    not all(t[2][:1].isupper() for t in toks[i:i + n]) or (n == 1 and keys[i] in mine):
                continue
            if text[toks[i + n - 1][1]:toks[i + n - 1][1] + 1] == "!":
                i += n   # "Jesus!": an exclamation, not a person
                break
            prev = tuple(keys[max(0, i - 3):i])
            if i > 0 and keys[i - 1].endswith("'s") and not text[toks[i - 1][1]:toks[i][0]].strip():
                i += n   # "Bart's Lincoln": someone's thing
                break
            nxt = tuple(keys[i + n:i + n + 3])
            if any(prev[len(prev) - len(p):] == p for p in before if len(p) <= len(prev)) or \
                    any(nxt[:len(p)] == p for p in after):
                i += n
                break
            start, end = toks[i][0], toks[i + n - 1][1]
            out.append((Hit(start, end, text[start:end]), {"person": found[0], "category": found[1]}))
            i += n
            break
        else:
            i += 1
    return out
