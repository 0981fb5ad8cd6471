"""The build state file: what it stores once is read back exactly."""

from __future__ import annotations

from pathlib import Path

from prodscale.storage.fs import FileStat
from prodscale.storage.state import BuildState, StoryRecord


def _record(name: str, lock_hash: str, rules: str) -> StoryRecord:
    entry = {"engine": "1.0.0", "compilation_hash": lock_hash}
    return StoryRecord(path=f"stories/{name}.fountain", stat=FileStat(10, 20, 30), text_digest=name * 2,
                       story_key="k" + name, engine="1.0.0", status="complete", outputs={"a.json": "d"},
                       output_stats={"a.json": FileStat(1, 2, 3)}, counts={"actions": 5},
                       parts={"text": name * 2, "engine": "1.0.0", "rules": {"x.toml": rules}},
                       lock_entry=entry)


def test_state_round_trip_with_shared_parts_and_lock_snapshot(tmp_path: Path) -> None:
    state = BuildState(tmp_path)
    state.stories = {"a": _record("a", "h1", "r1"), "b": _record("b", "h2", "r1"), "c": _record("c", "h3", "r2"),
                     "d": _record("d", "h4", "r1")}
    snapshot = {"digest": "abc", "stories": {
        "a": {"engine": "1.0.0", "compilation_hash": "h1"},        # as its record says
        "b": {"engine": "1.1.0", "compilation_hash": "other"},     # differs from its record
        "z": {"engine": "1.0.0", "compilation_hash": "hz"},        # pinned, never built here
        "c": {"engine": "1.0.0", "compilation_hash": "h3"}}}       # "d" is built but not in the lock
    state.lock_snapshot = snapshot
    state.save("run1")
    back = BuildState(tmp_path).load()
    assert back.messages == []
    assert {n: r.to_dict() for n, r in back.stories.items()} == {n: r.to_dict() for n, r in state.stories.items()}
    assert back.lock_snapshot == snapshot
    raw = (tmp_path / "state.json").read_bytes()
    assert raw.count(b'"r1"') == 1  # the parts three stories share are stored once


def test_records_read_back_are_saved_as_read_unless_changed(tmp_path: Path) -> None:
    state = BuildState(tmp_path)
    state.stories = {"a": _record("a", "h1", "r1"), "b": _record("b", "h2", "r2"), "c": _record("c", "h3", "r1")}
    state.lock_snapshot = None
    state.save("run1")
    again = BuildState(tmp_path).load()
    assert all(r.loaded is not None for r in again.stories.values())
    again.stories["a"].status = "blocked"                            # a field set
    again.stories["c"].set_output_stat("a.json", FileStat(9, 9, 9))  # an output re-statted
    del again.stories["b"]                                           # r2 is no longer shared by anyone
    again.stories["d"] = _record("d", "h4", "r3")
    assert again.stories["a"].loaded is None and again.stories["c"].loaded is None
    expected = {n: r.to_dict() for n, r in again.stories.items()}
    again.save("run2")
    back = BuildState(tmp_path).load()
    assert {n: r.to_dict() for n, r in back.stories.items()} == expected
    assert back.stories["a"].status == "blocked" and back.stories["c"].output_stats["a.json"] == FileStat(9, 9, 9)
    assert b'"r2"' not in (tmp_path / "state.json").read_bytes()


def test_a_no_op_reads_rule_files_but_parses_none(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The digests of rule files come from .prodscale/rule-digests.json (text digest -> canonical
    digest) once a build has parsed them: a later no-op build parses no TOML, and the same digests
    and keys result."""
    import prodscale.storage.project as project_mod
    from projects import build_json, make_project, story
    from prodscale.storage.project import Project, load_rules

    root = make_project(tmp_path / "p", {"one": story(2)})
    build_json(capsys, root)
    assert (root / ".prodscale" / "rule-digests.json").is_file()
    fresh = load_rules("1.0.0")

    def refuse(*args: object) -> None:
        raise AssertionError("a no-op parsed a rule file")

    monkeypatch.setattr(project_mod, "_parse_rule_file", refuse)
    cached = Project(root).rules("1.0.0")
    assert cached.digests == fresh.digests and cached.digest == fresh.digest
    code, rep = build_json(capsys, root)
    assert code == 0 and rep["executed"] == []
    monkeypatch.undo()
    assert Project(root).rules("1.0.0").data == fresh.data   # parsed when a stage needs it
