"""The one planner (`core.plan.plan_story`): build skips a story with no reasons, status prints them, generate
refuses stale prompts by them; each reason is typed data."""

from __future__ import annotations

from prodscale.core.canon import digest_obj
from prodscale.core.plan import Reason, Recorded, plan_story

PARTS = {"text": "t1", "engine": "2.0.0", "rules": {"a.toml": "1", "b.toml": "2"},
         "settings": {"project": "p", "style": "s"}, "code": "c", "parser": "1", "unicode": "15.0.0"}


def _plan(today: dict, *, path: str = "stories/a.fountain", intact: bool = True, calls: list | None = None):  # type: ignore[no-untyped-def]
    rec = Recorded(PARTS, digest_obj(PARTS), "stories/a.fountain")

    def outputs_intact() -> bool:
        if calls is not None:
            calls.append(1)
        return intact
    return plan_story(rec, today, digest_obj(today), path, outputs_intact)


def test_up_to_date_has_no_reasons_and_checks_the_outputs_once() -> None:
    calls: list[int] = []
    assert _plan(dict(PARTS), calls=calls) == [] and calls == [1]
    assert _plan(dict(PARTS), intact=False) == [Reason("outputs")]


def test_each_changed_part_is_named() -> None:
    calls: list[int] = []
    today = {**PARTS, "text": "t2", "engine": "2.1.0", "rules": {"a.toml": "1", "b.toml": "3", "c.toml": "4"},
             "settings": {"project": "p"}, "code": "d", "unicode": "15.1.0"}
    got = _plan(today, calls=calls)
    assert got == [Reason("text"), Reason("engine", "2.0.0 -> 2.1.0"), Reason("rules", "b.toml"),
                   Reason("rules", "c.toml"), Reason("settings", "style"), Reason("code"),
                   Reason("unicode", "15.0.0 -> 15.1.0")]
    assert calls == []             # already stale: the disk is not read
    assert [r.to_json()["kind"] for r in got][:2] == ["text", "engine"]
    assert got[2].text(engine="2.1.0") == "rule data rules/2.1.0/b.toml changed"


def test_new_moved_and_foreign_records() -> None:
    assert plan_story(None, PARTS, digest_obj(PARTS), "stories/a.fountain", lambda: True) == [Reason("new")]
    assert _plan(dict(PARTS), path="tales/a.fountain") == [Reason("path", "stories/a.fountain -> tales/a.fountain")]
    # a record whose key does not hash its parts (another prodscale wrote it): stale, said so
    rec = Recorded(PARTS, "0" * 64, "stories/a.fountain")
    assert plan_story(rec, PARTS, digest_obj(PARTS), "stories/a.fountain", lambda: True) == [Reason("record")]
    assert Reason("record").text() == "build record from another version"


def test_build_and_status_carry_the_same_typed_reasons(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import orjson
    from projects import make_project, story
    from prodscale.cli.main import main
    import contextlib
    import io

    def call(*args: str) -> dict:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main([*args, "--json", "-C", str(root)]) in (0, 1)
        return orjson.loads(out.getvalue())

    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1)})
    assert [r["why"] for r in call("status")["stories"]] == [[{"kind": "new", "detail": ""}]] * 2
    first = call("build")
    assert first["stories"]["alpha"]["why"] == [{"kind": "new", "detail": ""}]
    (root / "stories" / "alpha.fountain").write_text(story(3), encoding="utf-8")
    rows = {r["story"]: r for r in call("status")["stories"]}
    assert [w["kind"] for w in rows["alpha"]["why"]] == ["text"] and rows["beta"]["why"] == []
    again = call("build")
    assert [w["kind"] for w in again["stories"]["alpha"]["why"]] == ["text"]
    assert again["stories"]["beta"]["why"] == []          # up to date: nothing to explain
