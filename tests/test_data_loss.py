"""Issue 14, data loss first: a build never drops every story because the stories folder was mistyped or
emptied, a pin is never dropped because its file is absent (`prodscale lock prune` removes pins on purpose),
and a hand-edited lock whose tables are out of order keeps every pin."""

from __future__ import annotations

import tomllib

import orjson
from pathlib import Path

from projects import build_json, make_project, run, story, tree_bytes


def _lock(root: Path) -> dict:
    return tomllib.loads((root / "prodscale.lock").read_text(encoding="utf-8"))["stories"]


def test_a_mistyped_stories_folder_is_an_error_that_touches_nothing(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1)})
    code, _ = build_json(capsys, root)
    assert code == 0
    before, lock_before = tree_bytes(root / "build"), (root / "prodscale.lock").read_bytes()
    cfg = root / "prodscale.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[project]", '[project]\nstories = "storeis"'),
                   encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 2 and "storeis" in err and "prodscale.toml" in err
    assert tree_bytes(root / "build") == before and (root / "prodscale.lock").read_bytes() == lock_before


def test_an_emptied_stories_folder_is_an_error_that_touches_nothing(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    build_json(capsys, root)
    before, lock_before = tree_bytes(root / "build"), (root / "prodscale.lock").read_bytes()
    (root / "stories" / "alpha.fountain").rename(tmp_path / "alpha.fountain")
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 2 and "no stories" in err
    assert tree_bytes(root / "build") == before and (root / "prodscale.lock").read_bytes() == lock_before


def test_a_deleted_story_keeps_its_pin_until_pruned(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1)})
    build_json(capsys, root)
    (root / "stories" / "beta.fountain").unlink()
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 0, err
    assert "beta" in _lock(root) and "lock prune" in (out + err)
    assert not (root / "build" / "beta").exists()          # its outputs go with it
    code, out, err = run(capsys, "lock", "prune", "-C", str(root))
    assert code == 0 and "beta" in out
    assert sorted(_lock(root)) == ["alpha"]
    # back again: it compiles on the default engine like a new story
    (root / "stories" / "beta.fountain").write_text(story(1), encoding="utf-8")
    code, _ = build_json(capsys, root)
    assert code == 0 and sorted(_lock(root)) == ["alpha", "beta"]


def test_a_hand_edited_lock_with_tables_out_of_order_keeps_every_pin(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1), "gamma": story(1)})
    build_json(capsys, root)
    text = (root / "prodscale.lock").read_text(encoding="utf-8")
    head, *tables = text.split("\n[stories.")
    tables = ["[stories." + t for t in tables]
    tables = [t.rstrip("\n") + "\n" for t in tables]
    reordered = head + "\n" + "\n".join(tables[1:] + tables[:1])   # beta, gamma, alpha: a rotation
    (root / "prodscale.lock").write_text(reordered, encoding="utf-8")
    want = _lock(root)
    (root / "stories" / "beta.fountain").write_text(story(2, title="Beta"), encoding="utf-8")   # beta recompiles
    code, rep = build_json(capsys, root)
    assert code == 0, rep
    got = _lock(root)
    assert sorted(got) == ["alpha", "beta", "gamma"]
    for name in ("alpha", "gamma"):
        assert got[name] == want[name], name
    lock_text = (root / "prodscale.lock").read_text(encoding="utf-8")
    assert lock_text.count("[stories.alpha]") == lock_text.count("[stories.beta]") == 1


def test_the_cache_is_kept_on_transient_trouble_and_discarded_only_when_corrupt(tmp_path: Path, capsys,
                                                                                 monkeypatch) -> None:
    import sqlite3

    import diskcache
    import pytest

    from prodscale.errors import ProdscaleError
    from prodscale.storage import cache as cache_mod
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    build_json(capsys, root)
    directory = root / ".prodscale" / "cache"
    before = sorted(p.name for p in directory.iterdir())
    real = diskcache.Cache
    for trouble in ("database is locked", "database or disk is full", "disk I/O error"):
        def failing(*a, _t=trouble, **k):   # type: ignore[no-untyped-def]
            raise sqlite3.OperationalError(_t)
        monkeypatch.setattr(cache_mod.diskcache, "Cache", failing)
        with pytest.raises(ProdscaleError, match="nothing was discarded"):
            cache_mod.Cache(directory)
        assert sorted(p.name for p in directory.iterdir()) == before, trouble
    calls = []
    def corrupt_once(*a, **k):   # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.DatabaseError("file is not a database")
        return real(*a, **k)
    monkeypatch.setattr(cache_mod.diskcache, "Cache", corrupt_once)
    c = cache_mod.Cache(directory)
    assert any("unreadable" in p for p in c.problems)      # proven corruption: an empty cache, said so
    c.close()


def test_an_edit_that_keeps_size_and_mtime_is_noticed(tmp_path: Path, capsys) -> None:
    """`cp -p` of a same-size draft: size, mtime and inode stay; build, status and verify must not say up to
    date (generate would pay for stale prompts)."""
    import os
    import time
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    path = root / "stories" / "alpha.fountain"
    old = time.time_ns() - 60 * 10 ** 9   # written a minute ago: outside the racy window of the state
    os.utime(path, ns=(old, old))
    build_json(capsys, root)
    build_json(capsys, root)
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    draft = text.replace("Chairs", "Tables")
    assert len(draft.encode()) == len(text.encode()) and draft != text
    with open(path, "r+b") as fh:   # in place, as cp does: same inode
        fh.write(draft.encode("utf-8"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    code, out, err = run(capsys, "status", "-C", str(root))
    assert "up to date" not in out, out
    code, rep = build_json(capsys, root)
    assert code == 0 and rep["executed"], rep
    assert "Tables" in (root / "build" / "alpha" / "shot_specs.json").read_text(encoding="utf-8")


def test_bad_settings_and_locks_are_clear_errors_not_tracebacks(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(1)})
    cfg = root / "prodscale.toml"
    good = '[project]\nname = "p"\n'
    cfg.write_text(good, encoding="utf-8")
    for bad, words in (('[style]\nlook = 5\n', "[style] look must be a string"),
                       ('[[acknowledge]]\ncode = 403\nreason = "x"\n', "code must be a non-empty string"),
                       ("deep = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply")):
        cfg.write_text(good + "\n" + bad, encoding="utf-8")
        code, out, err = run(capsys, "build", "-C", str(root))
        assert code == 2 and words in err and "Traceback" not in err, err
    cfg.write_text(good, encoding="utf-8")
    build_json(capsys, root)
    lock = root / "prodscale.lock"
    lock.write_text(lock.read_text(encoding="utf-8") + "deep = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 2 and "nested too deeply" in err


def test_credits_add_of_an_absurd_amount_is_refused(tmp_path: Path, capsys) -> None:
    from prodscale.core.generation import parse_amount
    import pytest as _pytest
    from prodscale.errors import UsageError
    with _pytest.raises(UsageError, match="more than the ledger keeps"):
        parse_amount("1e30", 2)
    assert parse_amount("12.50", 2) == 1250


def test_a_hidden_story_is_skipped_with_a_word(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(1)})
    (root / "stories" / ".draft.fountain").write_text(story(1), encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 0 and ".draft.fountain is hidden" in err and not (root / "build" / ".draft").exists()


def test_cache_gc_keeps_the_run_records_of_live_compilations(tmp_path: Path, capsys, monkeypatch) -> None:
    """`cache gc` once deleted every run record (they are not action keys of any log), so a deleted output
    folder came back with a new `compiled_at`: the manifest of an unchanged compilation must not move."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1)})
    build_json(capsys, root)
    manifest = (root / "build" / "alpha" / "manifest.json").read_bytes()
    (root / "stories" / "beta.fountain").write_text(story(2, title="Beta"), encoding="utf-8")
    build_json(capsys, root)                      # beta's first compilation is garbage now
    code, out, err = run(capsys, "cache", "gc", "--json", "-C", str(root))
    assert code == 0, err
    assert orjson.loads(out)["removed"] > 0       # it did collect something
    import shutil
    shutil.rmtree(root / "build" / "alpha")
    monkeypatch.setattr("time.time", lambda: 4_000_000_000.0)   # a later day: a new record would show it
    code, rep = build_json(capsys, root)
    assert code == 0, rep
    assert (root / "build" / "alpha" / "manifest.json").read_bytes() == manifest


def test_cache_gc_removes_what_no_live_story_refers_to(tmp_path: Path) -> None:
    """The collection itself, on the storage layer: live action keys, their blobs and run records stay;
    the rest goes, and the report counts it."""
    from prodscale.storage.cache import Cache
    from prodscale.storage.gc import collect_garbage, LiveSet

    cache = Cache(tmp_path / "cache")
    live_blob = cache.put_blob(b"live output")
    dead_blob = cache.put_blob(b"dead output")
    cache.put_action("k-live", {"target": "s:scene:1"}, b"x")
    cache.put_action("k-dead", {"target": "s:scene:2"}, b"y")
    cache.put_meta("run:live-hash", {"compiled_at": "1", "run_id": "r"})
    cache.put_meta("run:dead-hash", {"compiled_at": "1", "run_id": "r"})
    report = collect_garbage(cache, LiveSet(keys={"k-live"}, blobs={live_blob}, compilations={"live-hash"}))
    assert cache.get_blob(live_blob) == b"live output" and cache.get_blob(dead_blob) is None
    assert cache.get_action("k-live") is not None and cache.get_action("k-dead") is None
    assert cache.get_meta("run:live-hash") is not None and cache.get_meta("run:dead-hash") is None
    assert report.removed == 3 and report.kept == 3
    cache.close()


def test_outputs_of_a_deleted_story_go_even_after_the_build_state_was_lost(tmp_path: Path, capsys) -> None:
    """Without `.prodscale/state.json` the builder no longer remembers beta's outputs; its manifest says what
    they are, so they still go when beta's story is gone. A file of the user's own in that folder stays."""
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1)})
    build_json(capsys, root)
    (root / "build" / "beta" / "my-notes.txt").write_text("mine", encoding="utf-8")
    (root / ".prodscale" / "state.json").unlink()
    (root / "stories" / "beta.fountain").unlink()
    code, rep = build_json(capsys, root)
    assert code == 0, rep
    assert sorted(p.name for p in (root / "build" / "beta").iterdir()) == ["my-notes.txt"]
    assert rep["removed"] == ["beta"]
    assert (root / "build" / "alpha" / "manifest.json").exists()
    (root / "build" / "beta" / "my-notes.txt").unlink()
    (root / ".prodscale" / "state.json").unlink()
    code, rep = build_json(capsys, root)
    assert code == 0 and rep["removed"] == []       # nothing of beta is left to remove
