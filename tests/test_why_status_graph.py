"""`why`, `status` and `graph` tell the truth about the build."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from projects import build_json, make_project, run, story


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", {"alpha": story(5)})


def test_why_untouched_target_says_cache_hit(project: Path, capsys) -> None:
    build_json(capsys, project)
    (project / "stories" / "alpha.fountain").write_text(story(5).replace("number 4.", "number 4. Rain."),
                                                        encoding="utf-8")
    build_json(capsys, project)
    code, out, err = run(capsys, "why", "alpha#2:prompts", "-C", str(project))
    assert code == 0 and "up to date (cache hit" in out


def test_why_after_scene_edit_names_scene_lines_and_diff(project: Path, capsys) -> None:
    build_json(capsys, project)
    path = project / "stories" / "alpha.fountain"
    path.write_text(story(5).replace("window number 3.", "window number 3. A bell rings."), encoding="utf-8")
    # before building: would rebuild
    code, out, err = run(capsys, "why", "alpha#3:sanitize", "-C", str(project))
    assert code == 0, err
    assert "would rebuild" in out and "scene's text changed" in out
    assert "+NELL sands a wooden CHAIR by the window number 3. A bell rings." in out
    build_json(capsys, project)
    code, out, err = run(capsys, "why", "alpha#3:prompts", "-C", str(project))
    assert "rebuilt in run" in out
    assert "alpha#3:sanitize" in out  # followed up the chain
    assert "-NELL sands a wooden CHAIR by the window number 3." in out
    code, out, err = run(capsys, "why", "--json", "alpha#3:sanitize", "-C", str(project))
    data = orjson.loads(out)
    assert data["state"] == "rebuilt"
    change = data["changes"][0]
    assert change["kind"] == "inputs" and change["name"] == "scene"
    lines = (project / "stories" / "alpha.fountain").read_text(encoding="utf-8").split("\n")
    first, last = change["lines"]
    assert lines[first - 1].startswith("INT. WORKSHOP 3")
    assert "A bell rings." in "\n".join(lines[first - 1:last])
    # hunk headers count in file lines: the changed action line is the scene's third line
    import re
    hunk = re.search(r"^@@ -(\d+),\d+ \+(\d+),\d+ @@$", change["diff"], re.M)
    assert hunk and first <= int(hunk.group(2)) <= first + 2 < last


def test_why_after_settings_change_shows_the_setting_diff(project: Path, capsys) -> None:
    build_json(capsys, project)
    cfg = project / "prodscale.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("soft daylight", "neon night"), encoding="utf-8")
    code, out, err = run(capsys, "why", "alpha#1:prompts", "-C", str(project))
    assert "setting 'style' changed" in out
    assert '+  "look": "neon night"' in out


def test_status_one_line_each(project: Path, capsys) -> None:
    (project / "stories" / "beta.fountain").write_text(story(2), encoding="utf-8")
    code, out, err = run(capsys, "status", "-C", str(project))
    assert out.splitlines() == ["alpha: stale: new story: never built", "beta: stale: new story: never built"]
    build_json(capsys, project)
    code, out, err = run(capsys, "status", "-C", str(project))
    assert out.splitlines() == ["alpha: up to date (complete)", "beta: up to date (complete)"]
    path = project / "stories" / "alpha.fountain"
    path.write_text(story(5).replace("number 2.", "number 2. Snow."), encoding="utf-8")
    code, out, err = run(capsys, "status", "-C", str(project))
    assert out.splitlines()[0].startswith("alpha: stale: story text changed: scene(s) #2 (lines ")


def test_graph_formats(project: Path, capsys) -> None:
    code, out, err = run(capsys, "graph", "--format", "json", "-C", str(project))
    g = orjson.loads(out)
    ids = {n["id"] for n in g["nodes"]}
    assert {"alpha", "alpha:aggregate", "alpha#5:prompts", "alpha:src"} <= ids
    assert ["alpha#1:sanitize", "alpha#1:shot_specs"] in g["edges"]
    code, out, err = run(capsys, "graph", "alpha#2:prompts", "-C", str(project))
    assert out.startswith("digraph") and '"alpha#2:sanitize" -> "alpha#2:shot_specs";' in out
    assert "alpha#3" not in out
    code, out, err = run(capsys, "graph", "--format", "mermaid", "-C", str(project))
    assert out.startswith("flowchart LR")
