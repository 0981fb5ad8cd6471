"""One decision of the engine a story compiles on (`core.features.choose_engine`), read by build and by
reanalyze: the builder raised where reanalyze silently took the newest engine."""

from __future__ import annotations

from prodscale.core.features import choose_engine

FEATURES = {"1.0.0": set(), "1.1.0": {"shot_directives"}, "2.0.0": {"shot_directives", "dual_dialogue"}}


def test_a_new_story_goes_to_the_default_or_up_to_its_floor() -> None:
    assert choose_engine(set(), FEATURES, default="1.1.0") == choose_engine([], FEATURES, default="1.1.0")
    plain = choose_engine(set(), FEATURES, default="1.1.0")
    assert (plain.engine, plain.floor, plain.outcome) == ("1.1.0", "1.0.0", "default")
    raised = choose_engine({"dual_dialogue"}, FEATURES, default="1.1.0")
    assert (raised.engine, raised.floor, raised.outcome) == ("2.0.0", "2.0.0", "floor")


def test_a_pinned_or_requested_engine_is_kept_only_at_or_above_the_floor() -> None:
    kept = choose_engine({"shot_directives"}, FEATURES, default="2.0.0", wanted="1.1.0")
    assert (kept.engine, kept.floor, kept.outcome) == ("1.1.0", "1.1.0", "kept")
    below = choose_engine({"shot_directives", "dual_dialogue"}, FEATURES, default="2.0.0", wanted="1.0.0")
    assert (below.engine, below.floor, below.outcome) == (None, "2.0.0", "below-floor")
    assert below.missing == {"shot_directives", "dual_dialogue"}


def test_a_feature_no_engine_compiles_is_said_not_papered_over() -> None:
    none = choose_engine({"shot_directives", "teleprompter"}, FEATURES, default="2.0.0", wanted="2.0.0")
    assert (none.engine, none.floor, none.outcome, none.missing) == (None, None, "no-engine", {"teleprompter"})
