"""Bad input, corrupt caches, concurrent builds and kills: nothing lost, everything healed."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from projects import build_json, make_project, run, story, tree_bytes


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", {"alpha": story(4), "beta": story(2, title="Beta")})


def test_non_utf8_story_is_exit_2_with_location_and_nothing_lost(project: Path, capsys) -> None:
    build_json(capsys, project)
    before = tree_bytes(project / "build")
    bad = project / "stories" / "alpha.fountain"
    bad.write_bytes(b"Title: X\n\nINT. ROOM - DAY\n\nCaf\xe9 au lait.\n")
    code, out, err = run(capsys, "build", "-C", str(project))
    assert code == 2
    assert "stories/alpha.fountain:5:4" in err and "UTF-8" in err
    assert tree_bytes(project / "build") == before


def test_unsafe_story_name_is_exit_2(project: Path, capsys) -> None:
    (project / "stories" / "bad name!.fountain").write_text(story(1), encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(project))
    assert code == 2 and "bad name!" in err and "rename" in err
    assert (project / "build" / "alpha" / "shot_specs.json").exists()


def test_symlink_leaving_the_project_is_refused(project: Path, tmp_path: Path, capsys) -> None:
    outside = tmp_path / "outside.fountain"
    outside.write_text(story(1), encoding="utf-8")
    (project / "stories" / "leak.fountain").symlink_to(outside)
    code, out, err = run(capsys, "build", "-C", str(project))
    assert code == 2 and "leak.fountain" in err and "leaves the project" in err


def test_missing_config_is_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "build", "-C", str(tmp_path / "empty"))
    assert code == 2 and "prodscale.toml" in err and "prodscale init" in err


def test_malformed_config_names_the_line(project: Path, capsys) -> None:
    build_json(capsys, project)
    before = tree_bytes(project / "build")
    cfg = project / "prodscale.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('profile = "generic"', "profile = generic"),
                   encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(project))
    assert code == 2 and "prodscale.toml:4" in err
    assert tree_bytes(project / "build") == before


def test_unknown_setting_names_the_line(project: Path, capsys) -> None:
    cfg = project / "prodscale.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[style]", "[style]\ncolour = 'red'"), encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(project))
    assert code == 2 and "prodscale.toml:7" in err and "colour" in err


def test_unknown_target_is_exit_2(project: Path, capsys) -> None:
    code, out, err = run(capsys, "build", "-C", str(project), "gamma")
    assert code == 2 and "gamma" in err
    code, out, err = run(capsys, "build", "-C", str(project), "alpha#9:prompts")
    assert code == 2 and "alpha#9:prompts" in err
    code, out, err = run(capsys, "build", "-C", str(project), "alpha:nonsense")
    assert code == 2


def _cache_files(project: Path) -> list[Path]:
    return sorted(p for p in (project / ".prodscale" / "cache").rglob("*") if p.is_file())


def test_corrupt_cache_database_is_detected_and_healed(project: Path, capsys) -> None:
    build_json(capsys, project)
    clean = tree_bytes(project / "build")
    db = project / ".prodscale" / "cache" / "cache.db"
    data = bytearray(db.read_bytes())
    rng = random.Random(7)
    for _ in range(64):
        i = rng.randrange(100, len(data))
        data[i] ^= 0xFF
    db.write_bytes(bytes(data))
    for wal in db.parent.glob("cache.db-*"):
        wal.unlink()
    import shutil
    shutil.rmtree(project / "build")
    code, rep = build_json(capsys, project)
    assert code == 0, rep
    assert tree_bytes(project / "build") == clean


def test_truncated_cache_database_is_healed(project: Path, capsys) -> None:
    build_json(capsys, project)
    clean = tree_bytes(project / "build")
    db = project / ".prodscale" / "cache" / "cache.db"
    db.write_bytes(db.read_bytes()[:1000])
    for wal in db.parent.glob("cache.db-*"):
        wal.unlink()
    (project / ".prodscale" / "state.json").unlink()  # force every story to be re-checked
    code, rep = build_json(capsys, project)
    assert code == 0, rep
    assert rep["problems"], "the damage must be reported"
    assert tree_bytes(project / "build") == clean


def test_corrupt_entries_are_misses_not_wrong_outputs(project: Path, capsys) -> None:
    from prodscale.storage.cache import CAS_PREFIX, Cache
    build_json(capsys, project)
    clean = tree_bytes(project / "build")
    cache = Cache(project / ".prodscale" / "cache")
    n = 0
    for key in cache.keys():
        if key.startswith(CAS_PREFIX):
            raw = cache._cache.get(key)
            cache._cache.set(key, raw[:-1] + bytes([raw[-1] ^ 1]) if raw else b"x")
            n += 1
    cache.close()
    assert n > 0
    import shutil
    shutil.rmtree(project / "build")
    shutil.rmtree(project / ".prodscale" / "log")
    (project / ".prodscale" / "state.json").unlink()
    code, rep = build_json(capsys, project)
    assert code == 0
    assert any("corrupt" in p for p in rep["problems"])
    assert tree_bytes(project / "build") == clean
    code, out, err = run(capsys, "cache", "verify", "-C", str(project))
    assert code == 0, out


def _prodscale(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "prodscale", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_no_wait_fails_clearly_while_locked(project: Path, capsys) -> None:
    from prodscale.storage.lock import ProjectLock
    lock = ProjectLock(project / ".prodscale", "test holder").acquire()
    try:
        code, out, err = run(capsys, "build", "--no-wait", "-C", str(project))
        assert code == 2 and "locked by" in err and "test holder" in err
    finally:
        lock.release()


def test_concurrent_builds_never_corrupt(project: Path) -> None:
    for i in range(3):
        (project / "stories" / f"extra{i}.fountain").write_text(story(6, title=f"E{i}"), encoding="utf-8")
    procs = [_prodscale("build", "-C", str(project)) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    first = tree_bytes(project / "build")
    import shutil
    clean = project.parent / "clean"
    shutil.copytree(project, clean, ignore=shutil.ignore_patterns("build", ".prodscale"))
    p = _prodscale("build", "-C", str(clean))
    p.communicate(timeout=120)
    assert tree_bytes(clean / "build") == first


@pytest.mark.slow
@pytest.mark.stress
def test_sigkill_at_random_points_always_recovers(tmp_path: Path) -> None:
    import shutil
    stories = {f"s{i}": story(8, title=f"S{i}") for i in range(6)}
    reference = make_project(tmp_path / "ref", stories)
    p = _prodscale("build", "-C", str(reference))
    p.communicate(timeout=120)
    assert p.returncode == 0
    expected = tree_bytes(reference / "build")
    rng = random.Random(20261125)
    project = make_project(tmp_path / "victim", stories)
    for trial in range(20):
        if trial % 5 == 0:  # start over now and then so kills land in cold builds too
            shutil.rmtree(project / ".prodscale", ignore_errors=True)
            shutil.rmtree(project / "build", ignore_errors=True)
        victim = project / "stories" / f"s{trial % 6}.fountain"
        victim.write_text(stories[f"s{trial % 6}"] + ("\n" * (trial % 3)), encoding="utf-8")
        proc = _prodscale("build", "-C", str(project))
        time.sleep(rng.uniform(0.05, 0.9))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        import orjson
        for f in (project / "build").rglob("*.json") if (project / "build").exists() else []:
            if not f.name.startswith("."):
                orjson.loads(f.read_bytes())  # a final path never holds a half-written file
        done = _prodscale("build", "-C", str(project))
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, (trial, err.decode())
        for name, text in stories.items():  # put the text back as the reference has it
            (project / "stories" / f"{name}.fountain").write_text(text, encoding="utf-8")
        again = _prodscale("build", "-C", str(project))
        again.communicate(timeout=120)
        assert tree_bytes(project / "build") == expected, f"trial {trial}"


def test_an_output_that_cannot_be_written_is_named_with_what_to_do(project: Path, capsys) -> None:
    build_json(capsys, project)
    shutil.rmtree(project / "build" / "alpha")
    (project / "build" / "alpha").write_text("not a folder", encoding="utf-8")  # the story's folder is blocked
    (project / "stories" / "alpha.fountain").write_text(story(3, title="Alpha again"), encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(project))
    assert code == 1
    assert "cannot write build/alpha" in err and "run the build again" in err and "bug" not in err
    (project / "build" / "alpha").unlink()
    code, rep = build_json(capsys, project)
    assert code == 0 and (project / "build" / "alpha" / "manifest.json").is_file()


def test_temp_files_of_a_dead_build_are_removed_by_the_next(project: Path, capsys) -> None:
    build_json(capsys, project)
    clean = tree_bytes(project / "build")
    leftovers = [project / "build" / "alpha" / ".prompts.json.x1.tmp", project / ".prodscale" / "log" / ".alpha.json.x2.tmp"]
    for path in leftovers:
        path.write_bytes(b"half")
    (project / ".prodscale" / "lock").write_text("pid 99999 (prodscale build)\n", encoding="utf-8")  # died holding it
    code, rep = build_json(capsys, project)
    assert code == 0 and rep["executed"] == []
    assert not any(p.exists() for p in leftovers)
    assert tree_bytes(project / "build") == clean
    assert (project / ".prodscale" / "lock").read_bytes() == b""  # released cleanly this time
