"""Incremental builds: what runs after each kind of change (issue: the build engine)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from projects import build_json, make_project, run, scene, story, tree_bytes
from prodscale.core.engines import get_engine

STAGES = [s.name for s in get_engine("1.0.0").stages]


def scene_actions(name: str, index: int) -> list[str]:
    return [f"{name}#{index}:{s}" for s in STAGES]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", {"alpha": story(5), "beta": story(3, title="Beta", start=10)})


def test_cold_build_runs_every_action_in_stable_order(project: Path, capsys) -> None:
    code, rep = build_json(capsys, project)
    assert code == 0, rep
    expected = []
    for name, n in (("alpha", 5), ("beta", 3)):
        for i in range(1, n + 1):
            expected += scene_actions(name, i)
        expected.append(f"{name}:aggregate")
    assert rep["executed"] == expected
    assert rep["ok"] is True and rep["failed"] == [] and rep["cached"] == 0
    assert {n: (s["status"], s["engine"]) for n, s in rep["stories"].items()} == {
        "alpha": ("complete", "1.0.0"), "beta": ("complete", "1.0.0")}
    assert rep["stories"]["alpha"]["counts"] == {"actions": 5 * len(STAGES) + 1, "errors": 0, "scenes": 5,
                                                 "warnings": 0}
    for name in ("alpha", "beta"):
        files = sorted(p.name for p in (project / "build" / name).iterdir())
        assert files == ["diagnostics.json", "manifest.json", "manifest.txt", "prompts.json", "shot_list.csv",
                         "shot_specs.json", "src.json"]


def test_noop_and_touch_execute_nothing(project: Path, capsys) -> None:
    build_json(capsys, project)
    before = tree_bytes(project / "build")
    code, rep = build_json(capsys, project)
    assert code == 0 and rep["executed"] == []
    assert rep["cached"] == (5 + 3) * len(STAGES) + 2
    path = project / "stories" / "alpha.fountain"
    future = time.time_ns() + 5_000_000_000
    os.utime(path, ns=(future, future))
    code, rep = build_json(capsys, project)
    assert code == 0 and rep["executed"] == []
    code, rep = build_json(capsys, project)
    assert rep["executed"] == []
    assert tree_bytes(project / "build") == before


def test_editing_one_scene_runs_only_that_scene_and_the_aggregation(project: Path, capsys) -> None:
    build_json(capsys, project)
    path = project / "stories" / "alpha.fountain"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("window number 3.", "window number 3. Dust rises."), encoding="utf-8")
    code, rep = build_json(capsys, project)
    assert code == 0
    assert rep["executed"] == scene_actions("alpha", 3) + ["alpha:aggregate"]


def test_inserting_a_scene_at_the_top_runs_only_the_new_scene(project: Path, capsys) -> None:
    build_json(capsys, project)
    first = tree_bytes(project / "build")
    path = project / "stories" / "alpha.fountain"
    text = path.read_text(encoding="utf-8")
    head, body = text.split("\n\n", 1)
    path.write_text(head + "\n\n" + scene(99, place="ATTIC") + body, encoding="utf-8")
    code, rep = build_json(capsys, project)
    assert code == 0
    assert rep["executed"] == scene_actions("alpha", 1) + ["alpha:aggregate"]
    assert tree_bytes(project / "build") != first
    # deleting it again: every action, the aggregation included, is a hit from the first build
    path.write_text(text, encoding="utf-8")
    code, rep = build_json(capsys, project)
    assert rep["executed"] == []
    assert tree_bytes(project / "build") == first


def test_settings_change_reruns_only_the_stages_that_read_it(project: Path, capsys) -> None:
    build_json(capsys, project)
    cfg = project / "prodscale.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("soft daylight", "hard noon sun"), encoding="utf-8")
    code, rep = build_json(capsys, project)
    readers = [s.name for s in get_engine("1.0.0").stages if "style" in s.settings]
    assert readers, "some stage must read [style]"
    expected = []
    for name, n in (("alpha", 5), ("beta", 3)):
        for i in range(1, n + 1):
            expected += [f"{name}#{i}:{s}" for s in STAGES if s in readers]
        expected.append(f"{name}:aggregate")
    assert rep["executed"] == expected


def test_deleted_story_outputs_are_removed(project: Path, capsys) -> None:
    build_json(capsys, project)
    (project / "stories" / "beta.fountain").unlink()
    code, rep = build_json(capsys, project)
    assert code == 0
    assert not (project / "build" / "beta").exists()
    assert (project / "build" / "alpha" / "shot_specs.json").exists()


def test_modified_output_is_restored(project: Path, capsys) -> None:
    build_json(capsys, project)
    out = project / "build" / "alpha" / "prompts.json"
    good = out.read_bytes()
    out.write_bytes(b"{}")
    code, rep = build_json(capsys, project)
    assert rep["executed"] == [] and out.read_bytes() == good
    out.unlink()
    build_json(capsys, project)
    assert out.read_bytes() == good


def test_deleting_state_rebuilds_identical_bytes(project: Path, capsys) -> None:
    build_json(capsys, project)
    before = tree_bytes(project / "build")
    shutil.rmtree(project / ".prodscale")
    code, rep = build_json(capsys, project)
    assert code == 0 and len(rep["executed"]) == (5 + 3) * len(STAGES) + 2
    assert tree_bytes(project / "build") == before


def test_single_target_builds_only_what_it_needs(project: Path, capsys) -> None:
    code, rep = build_json(capsys, project, "alpha#2:prompts")
    assert code == 0
    assert rep["executed"] == ["alpha#2:sanitize", "alpha#2:shot_specs", "alpha#2:prompts"]
    assert not (project / "build" / "alpha").exists()
    code, rep = build_json(capsys, project, "alpha")
    assert "alpha#2:prompts" not in rep["executed"] and "alpha:aggregate" in rep["executed"]


def test_dry_run_changes_nothing(project: Path, capsys) -> None:
    code, out, err = run(capsys, "build", "--dry-run", "-C", str(project))
    assert code == 0 and "would run alpha#1:sanitize" in out
    assert not (project / "build").exists()
    code, rep = build_json(capsys, project)
    assert len(rep["executed"]) == (5 + 3) * len(STAGES) + 2


@pytest.fixture
def own_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the rule data that the test may edit."""
    from prodscale.storage import project as project_mod
    dest = tmp_path / "rules"
    shutil.copytree(project_mod.rules_root(), dest, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    monkeypatch.setattr(project_mod, "rules_root", lambda: dest)
    return dest / "1.0.0"


def test_rule_data_change_reruns_exactly_the_rules_that_read_it(project: Path, own_rules: Path, capsys) -> None:
    build_json(capsys, project)
    f = own_rules / "shot_specs.toml"
    f.write_text(f.read_text(encoding="utf-8") + "\n# a comment changes no key\n", encoding="utf-8")
    code, rep = build_json(capsys, project)
    assert rep["executed"] == []
    f.write_text(f.read_text(encoding="utf-8").replace("insert_ms = 2000", "insert_ms = 2100"), encoding="utf-8")
    code, rep = build_json(capsys, project)
    readers = [s.name for s in get_engine("1.0.0").stages if "shot_specs.toml" in s.rule_files]
    assert readers == ["shot_specs"]
    executed = rep["executed"]
    for name, n in (("alpha", 5), ("beta", 3)):
        for i in range(1, n + 1):
            assert f"{name}#{i}:shot_specs" in executed
    # nothing upstream or beside it re-ran; downstream ran only where the output changed (early cutoff)
    assert {t.split(":")[1] for t in executed} <= {"shot_specs", "prompts", "aggregate"}
    assert not any(t.endswith((":sanitize", ":src")) for t in executed)


def test_early_cutoff_when_a_rerun_produces_the_same_output(project: Path, own_rules: Path, capsys) -> None:
    build_json(capsys, project)
    f = own_rules / "shot_specs.toml"
    # a value no scene of this project uses: shot_specs re-runs everywhere, its outputs are unchanged
    f.write_text(f.read_text(encoding="utf-8").replace("max_ms = 60000", "max_ms = 61000"), encoding="utf-8")
    code, rep = build_json(capsys, project)
    assert rep["executed"] == [f"alpha#{i}:shot_specs" for i in range(1, 6)] + \
        [f"beta#{i}:shot_specs" for i in range(1, 4)]
