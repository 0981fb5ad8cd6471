"""Parallel builds: the same bytes and the same report whatever the worker count or backend;
killed workers and Ctrl-C leave a state the next build completes from."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from projects import make_project, run, story, tree_bytes

BUILD_DIRS = ("build",)


def _build(capsys, root: Path, *extra: str) -> dict:
    code, out, err = run(capsys, "build", "--json", "-C", str(root), *extra)
    assert code == 0, err
    rep = orjson.loads(out)
    rep.pop("seconds")
    return rep


def _fresh(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("build", ".prodscale"))
    return dest


@pytest.fixture(scope="module")
def dask_cluster():  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", host="127.0.0.1")
    yield cluster.scheduler_address
    cluster.close()


def _many_stories(root: Path, n: int) -> Path:
    return make_project(root, {f"s{i:03d}": story(3, title=f"S{i}", start=i * 10) for i in range(n)})


@pytest.mark.slow
@pytest.mark.parametrize("which", ["example", "generated"])
def test_same_bytes_and_report_for_any_worker_count_and_dask(which: str, example_copy: Path, tmp_path: Path,
                                                             capsys, dask_cluster: str) -> None:
    base = example_copy if which == "example" else _many_stories(tmp_path / "gen", 200)
    results = {}
    for label, extra in (("j1", ["-j", "1"]), ("j2", ["-j", "2"]), ("j8", ["-j", "8"]),
                         ("dask", ["--executor", "dask", "--scheduler", dask_cluster]),
                         ("dask-local", ["--executor", "dask", "-j", "2"])):   # no --scheduler: a LocalCluster
        root = _fresh(base, tmp_path / f"{which}-{label}")
        rep = _build(capsys, root, *extra)
        results[label] = (rep, tree_bytes(root / "build"), (root / "prodscale.lock").read_bytes())
    ref_rep, ref_tree, ref_lock = results["j1"]
    assert ref_rep["executed"] and ref_tree
    for label, (rep, tree, lock) in results.items():
        assert rep == ref_rep, label
        assert tree == ref_tree, label
        assert lock == ref_lock, label


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _spawn(root: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "prodscale", "build", "-C", str(root), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _reference(tmp_path: Path, n: int) -> tuple[Path, dict[str, bytes]]:
    ref = _many_stories(tmp_path / "ref", n)
    p = _spawn(ref, "-j", "1")
    p.communicate(timeout=300)
    assert p.returncode == 0
    return ref, tree_bytes(ref / "build")


def _rerun_gives(victim: Path, expected: dict[str, bytes]) -> None:
    """The next build succeeds and leaves exactly the clean build's bytes."""
    again = _spawn(victim, "-j", "2")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    assert tree_bytes(victim / "build") == expected


def _start_with_workers(victim: Path) -> tuple[subprocess.Popen, list[int]]:
    """A -j 2 build of ``victim``, returned once its worker processes exist."""
    proc = _spawn(victim, "-j", "2")
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and not workers:
        workers = _children(proc.pid)
        time.sleep(0.02)
    assert workers, "the build started no worker"
    return proc, workers


@pytest.mark.slow
def test_a_killed_worker_is_reported_and_a_rerun_completes(tmp_path: Path) -> None:
    ref, expected = _reference(tmp_path, 200)
    victim = _fresh(ref, tmp_path / "victim")
    proc, workers = _start_with_workers(victim)
    time.sleep(0.3)
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    if proc.returncode == 0:  # the kill landed after the worker's last task: nothing to report
        pytest.skip("the worker finished before it was killed")
    assert proc.returncode == 1, err.decode()
    assert "worker failed" in err.decode()
    _rerun_gives(victim, expected)


@pytest.mark.slow
def test_ctrl_c_during_a_parallel_build_leaves_nothing_half_written(tmp_path: Path) -> None:
    ref, expected = _reference(tmp_path, 120)
    victim = _fresh(ref, tmp_path / "victim")
    proc, _ = _start_with_workers(victim)
    time.sleep(0.8)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    # 130: interrupted and reported; 0: it had finished; -SIGINT: the signal landed while the
    # interpreter was already shutting down after the build (Python restores the default action then)
    assert proc.returncode in (0, 130, -signal.SIGINT), err.decode()
    if proc.returncode == 130:
        assert "interrupted" in err.decode()
    # no worker outlives the build, nothing half-written at a final path, no temp files left behind
    time.sleep(0.2)
    assert _children(proc.pid) == []
    for f in (victim / "build").rglob("*") if (victim / "build").exists() else []:
        assert not f.name.endswith(".tmp"), f
        if f.suffix == ".json":
            orjson.loads(f.read_bytes())
    _rerun_gives(victim, expected)


def test_j_must_be_positive(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"a": story(1)})
    code, out, err = run(capsys, "build", "-j", "0", "-C", str(root))
    assert code == 2


def test_long_story_split_into_chunks_gives_the_same_bytes(tmp_path: Path, capsys) -> None:
    """A story longer than one task holds runs as scene chunks plus an aggregation that reads the
    chunks' outputs back from the cache: same report and bytes as -j 1, and an edit in it runs
    only that scene and the aggregation."""
    from prodscale.exec.builder import STORY_TASK_SCENES
    n = STORY_TASK_SCENES + 9
    base = make_project(tmp_path / "base", {"long": story(n, title="Long"), "short": story(3, title="Short", start=500)})
    reps, trees = {}, {}
    for label, extra in (("j1", ["-j", "1"]), ("j2", ["-j", "2"])):
        root = _fresh(base, tmp_path / label)
        reps[label] = _build(capsys, root, *extra)
        trees[label] = tree_bytes(root / "build")
    assert reps["j1"] == reps["j2"] and trees["j1"] == trees["j2"]
    assert len(reps["j1"]["executed"]) == (n + 3) * 4 + 2

    root = tmp_path / "j2"
    path = root / "stories" / "long.fountain"
    path.write_text(path.read_text(encoding="utf-8").replace("number 40.", "number forty."), encoding="utf-8")
    rep = _build(capsys, root, "-j", "2")
    assert rep["executed"] == [f"long#40:{s}" for s in ("sanitize", "shot_specs", "prompts", "src")] + \
        ["long:aggregate"]
    clean = _fresh(root, tmp_path / "clean")
    _build(capsys, clean, "-j", "1")
    assert tree_bytes(root / "build") == tree_bytes(clean / "build")


def test_a_stage_bug_in_a_worker_is_reported_with_its_target_not_a_broken_pool(tmp_path, capsys, monkeypatch) -> None:
    """A stage that raises in a worker process comes back as that target's internal error (the
    exception crosses the process boundary pickled: it used to fail to unpickle and break the pool)."""
    import pickle

    from prodscale.core.stages import shot_specs
    from prodscale.exec.actions import ActionFailed
    from projects import build_json, make_project, story

    err = pickle.loads(pickle.dumps(ActionFailed("s#1:shot_specs", "KeyError: 'x'")))
    assert (err.target, str(err)) == ("s#1:shot_specs", "s#1:shot_specs: KeyError: 'x'")

    def broken(scene, data):  # type: ignore[no-untyped-def]
        raise KeyError("id")

    monkeypatch.setattr(shot_specs, "build_shots", broken)  # forked workers inherit the patch
    root = make_project(tmp_path / "p", {f"s{i}": story(3, title=f"S{i}") for i in range(6)})
    code, rep = build_json(capsys, root, "-j", "2", "-k")
    assert code != 0
    assert sorted(rep["failed"]) == [f"s{i}#1:shot_specs" for i in range(6)]
    assert all("KeyError: 'id'" in e and "BrokenProcessPool" not in e for e in rep["errors"]), rep["errors"]
