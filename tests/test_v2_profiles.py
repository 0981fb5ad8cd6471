"""Engine 2.0.0 findings that depend on the generator profile: a term only said in dialogue is a warning
where the profile voices speech and a note where it sends none (PS120); a script that does not read as
English is flagged on a profile that takes English prompts only (PS209)."""

from __future__ import annotations

import pytest

from prodscale.core.v2_0.stages.aggregate import english_share
from prodscale.storage.project import load_rules
from test_v2_explain import compile_v2

SAID = """INT. CLASSROOM - DAY

NELL (40) waits.

NELL
He does a Donald Duck voice every morning.
"""

SHOWN_IN_ACTION = """INT. CLASSROOM - DAY

NELL (40) does a Donald Duck voice for the class.
"""


def _levels(text: str, profile: str, code: str) -> list[str]:
    out = compile_v2(text, {"project.profile": profile})
    return [d["severity"] for d in out["diagnostics"] if d["code"] == code]


@pytest.mark.parametrize("profile, level", [("veo3", "warning"), ("generic", "warning"),
                                            ("runway-gen4", "note"), ("kling", "note")])
def test_a_term_only_said_is_judged_by_whether_the_profile_speaks(profile: str, level: str) -> None:
    assert _levels(SAID, profile, "PS120") == [level]


def test_a_reference_in_the_action_reaches_every_profile() -> None:
    # the action is written into every prompt: a reference there stays a warning on a silent profile too
    assert _levels(SHOWN_IN_ACTION, "runway-gen4", "PS120") == ["warning"]


FRENCH = """EXT. QUAI DE LA GARE - MATIN

Le train de huit heures entre en gare. CLAIRE (35) attend sur le quai avec une valise rouge et un bouquet de fleurs.

CLAIRE
Tu es en retard, comme toujours. Le train s'est encore arrêté près de Lyon, je suppose.

PAUL (40) descend du wagon, un sourire fatigué aux lèvres, et prend la valise de Claire.
"""


def test_a_script_not_in_english_is_flagged_on_an_english_only_profile() -> None:
    assert _levels(FRENCH, "veo3", "PS209") == ["warning"]
    # no published language statement for these: not checked
    for profile in ("generic", "runway-gen4", "kling"):
        assert _levels(FRENCH, profile, "PS209") == []


def test_english_scripts_and_short_ones_are_not_flagged() -> None:
    english = FRENCH.replace("Le train de huit heures entre en gare.", "The eight o'clock train pulls in.")
    assert _levels(SAID * 4, "veo3", "PS209") == []   # English, under the minimum words: never judged
    words = frozenset(load_rules("2.0.0").data["prompts.toml"]["language"]["english_words"])
    hits, total = english_share(["The man and the dog are in the yard, 1962, at 10:30."], words)
    assert (hits, total) == (7, 10)   # numbers and times are not words; punctuation is stripped
    assert english_share([english], words)[0] > english_share([FRENCH], words)[0]


def test_the_judgement_uses_no_unicode_character_class() -> None:
    words = frozenset({"the"})
    # letters new in recent Unicode versions count as words all the same (split at spaces only)
    assert english_share(["the \U0001FAE8\U0001FAE8 \u0b55x"], words) == (1, 3)
