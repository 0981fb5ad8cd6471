"""Issue 14, part 1: the contract's last leaks, each reproduced first."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from projects import build_json, make_project, story


def _run(root: Path) -> dict:
    return orjson.loads((root / "build" / "alpha" / "manifest.json").read_bytes())["run"]


def test_source_date_epoch_wins_over_a_cached_run_record(tmp_path: Path, capsys, monkeypatch) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build_json(capsys, root)
    first = _run(root)
    assert first["compiled_at"] == "2023-11-14T22:13:20Z"
    shutil.rmtree(root / "build")
    (root / "prodscale.lock").unlink()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    build_json(capsys, root)
    second = _run(root)
    assert second["compiled_at"] == "2026-01-01T00:00:00Z" and second["run_id"] != first["run_id"]
    # without it, an unchanged compilation keeps the record it was first produced with
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    shutil.rmtree(root / "build")
    build_json(capsys, root)
    assert _run(root) == second


@pytest.mark.parametrize("umask", [0o077, 0o002, 0o022])
def test_modes_do_not_follow_the_umask(tmp_path: Path, capsys, umask: int) -> None:
    import os
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    old = os.umask(umask)
    try:
        build_json(capsys, root)
    finally:
        os.umask(old)
    for p in [root / "build", *(root / "build").rglob("*"), root / ".prodscale", *(root / ".prodscale").rglob("*"),
              root / "prodscale.lock"]:
        mode = p.stat().st_mode & 0o777
        assert mode == (0o755 if p.is_dir() else 0o644), (str(p.relative_to(root)), oct(mode))


def test_executed_is_the_same_for_every_worker_count_when_stories_share_scenes(tmp_path: Path, capsys) -> None:
    text = story(6)
    results = {}
    for jobs in ("1", "8"):
        root = make_project(tmp_path / f"j{jobs}", {f"s{i:02d}": text for i in range(24)})
        code, rep = build_json(capsys, root, "-j", jobs)
        assert code == 0, rep
        results[jobs] = (rep["executed"], rep["cached"])
    assert results["1"] == results["8"]
    executed, cached = results["1"]
    assert executed and all(t.startswith("s00") for t in executed if ":aggregate" not in t and "#" in t)
    # the next build (same SOURCE_DATE_EPOCH, so the same run id) counts only what it ran itself
    root = tmp_path / "j8"
    (root / "stories" / "s05.fountain").write_text(text + "INT. ATTIC - NIGHT\n\nNELL waits.\n", encoding="utf-8")
    code, rep = build_json(capsys, root, "-j", "8")
    assert code == 0 and all(t.startswith("s05") for t in rep["executed"]), rep["executed"]


def test_verify_reports_an_extra_file_and_notes_a_changed_run_record(tmp_path: Path, capsys) -> None:
    from projects import run
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    build_json(capsys, root)
    code, out, err = run(capsys, "verify", "-C", str(root))
    assert code == 0 and "not proved:" in out and "--rebuild" in out
    (root / "build" / "alpha" / "extra.txt").write_text("hello", encoding="utf-8")
    code, out, err = run(capsys, "verify", "-C", str(root))
    assert code == 3 and "extra.txt" in err and "not an output" in err
    (root / "build" / "alpha" / "extra.txt").unlink()
    path = root / "build" / "alpha" / "manifest.json"
    doc = orjson.loads(path.read_bytes())
    doc["run"]["compiled_at"] = "1999-01-01T00:00:00Z"
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    code, out, err = run(capsys, "verify", "-C", str(root), "--json")
    rep = orjson.loads(out)
    notes = [f for f in rep["findings"] if f["level"] == "note"]
    assert any("run record" in f["problem"] for f in notes)
    assert code == 0 and rep["ok"], rep   # a note, not tampering
    assert rep["does_not_prove"] and "rebuild" in rep["does_not_prove"]


def test_the_unicode_version_is_in_every_key(tmp_path: Path, capsys, monkeypatch) -> None:
    import unicodedata

    from prodscale.core import keys
    from prodscale.exec import builder
    assert unicodedata.unidata_version == keys.UNICODE_VERSION
    # a character assigned in Unicode 15.0 (CJK Extension H): a letter to 3.12+, unassigned to 3.11
    root = make_project(tmp_path / "p", {"alpha": "INT. HALL - DAY\n\nNELL (40) reads \U00031350\U00031351.\n"})
    code, rep = build_json(capsys, root)
    assert code == 0 and rep["executed"]
    code, rep = build_json(capsys, root)
    assert rep["executed"] == []
    # another interpreter's tables: nothing it cached is served, everything runs again
    monkeypatch.setattr(keys, "UNICODE_VERSION", "99.0.0")
    monkeypatch.setattr(builder, "UNICODE_VERSION", "99.0.0")
    code, rep = build_json(capsys, root)
    assert code == 0 and any(t.endswith(":sanitize") for t in rep["executed"])


def test_a_story_name_too_long_for_the_file_system_is_refused_and_j_is_capped(tmp_path: Path, capsys) -> None:
    from projects import run
    from prodscale.exec import executors
    root = make_project(tmp_path / "p", {"alpha": story(1), "a" * 246: story(1)})
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code != 0 and "120 characters" in err and (root / "build" / "alpha").is_dir()
    ex = executors.make_executor("local", 400, None)
    try:
        assert ex.workers <= executors.MAX_WORKERS_PER_CORE * executors.usable_cores()
    finally:
        ex.shutdown()


def test_verify_calls_a_story_not_built_yet_a_note_not_tampering(tmp_path: Path, capsys) -> None:
    from projects import run
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    build_json(capsys, root)
    (root / "stories" / "beta.fountain").write_text(story(1), encoding="utf-8")   # added after the build
    code, out, err = run(capsys, "verify", "-C", str(root))
    assert code == 0 and "not built yet" in err, err
    # an interrupted build: beta's outputs written, the lock not saved yet
    lock = (root / "prodscale.lock").read_bytes()
    build_json(capsys, root)
    (root / "prodscale.lock").write_bytes(lock)
    code, out, err = run(capsys, "verify", "-C", str(root))
    assert code == 0 and "not recorded in the lock yet" in err, err


def _edit_lock(root: Path, story_name: str, key: str, value: str) -> None:
    import re
    text = (root / "prodscale.lock").read_text(encoding="utf-8")
    head, _, rest = text.partition(f"[stories.{story_name}]")
    rest = re.sub(rf'(?m)^{key} = "[^"]*"', f'{key} = "{value}"', rest, count=1)
    (root / "prodscale.lock").write_text(head + f"[stories.{story_name}]" + rest, encoding="utf-8")


@pytest.mark.parametrize("key,value", [("floor", "2.0.0"), ("inputs", "0" * 64)])
def test_verify_rejects_the_lock_edits_that_build_rejects(tmp_path: Path, capsys, key: str, value: str) -> None:
    from projects import run
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    build_json(capsys, root)
    _edit_lock(root, "alpha", key, value)
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 3, err                                # build refuses the edited lock ...
    code, out, err = run(capsys, "verify", "-C", str(root))
    assert code == 3 and key in err and "prodscale.lock" in err, err   # ... and verify says which field


def test_verify_in_a_fresh_clone_tells_a_tampered_lock_from_drift(tmp_path: Path, capsys) -> None:
    """A clone has the stories and the lock, no build/ and no cache: plain verify has nothing to check
    (a note, not 'missing'), and --rebuild calls a lock that its unchanged inputs do not compile to edited,
    not engine drift."""
    from projects import run
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1)})
    build_json(capsys, root)
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("prodscale.toml", "prodscale.lock"):
        shutil.copy2(root / name, clone / name)
    shutil.copytree(root / "stories", clone / "stories")
    code, out, err = run(capsys, "verify", "-C", str(clone))
    assert code == 0 and "not built on this machine" in err and "missing" not in err, err
    code, out, err = run(capsys, "verify", "--rebuild", "-C", str(clone))
    assert code == 0, err
    _edit_lock(clone, "beta", "compilation_hash", "f" * 64)
    code, out, err = run(capsys, "verify", "--rebuild", "-C", str(clone))
    assert code == 3 and "edited" in err and "beta" in err and "alpha" not in err.replace("alpha: ok", ""), err
    assert "missing here" not in err
    assert not (clone / "build").exists()               # verify wrote nothing in the project


@pytest.mark.parametrize("name,says", [("-dash", "starts with '-'"), ("trailing.", "ends with '.'"),
                                       ("a b", "' '"), ("x" * 130, "130 characters")])
def test_a_refused_story_name_is_told_what_is_wrong_with_it(tmp_path: Path, capsys, name: str, says: str) -> None:
    """`-dash` was refused with a help text (letters, digits, '-') it already satisfied: say the real reason."""
    from projects import run
    root = make_project(tmp_path / "p", {"alpha": story(1), name: story(1)})
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code != 0 and says in err, err
