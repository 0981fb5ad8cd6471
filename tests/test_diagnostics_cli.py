"""Findings at scale: a build shows in full what it compiled and summarises per code what it did not;
``-q`` keeps errors; ``prodscale diagnostics`` lists every finding as text, JSON lines or SARIF 2.1.0."""

from __future__ import annotations

from pathlib import Path

import orjson

from projects import build_json, make_project, run, story

WARNED = "Title: W\n\nINT. BOATHOUSE\n\nNELL (40) coils oars and rope.\n\nNELL\nQuiet.\n"   # PS403: a heading without a time


def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", {"calm": story(2), "w1": WARNED, "w2": WARNED.replace("oars", "nets")})


def test_an_up_to_date_story_is_summarised_not_replayed(tmp_path: Path, capsys) -> None:
    root = project(tmp_path)
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 0 and err.count("warning[PS403]") == 2
    assert "warnings: PS403 x2 (2 stories)" in err
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 0 and "warning[PS403]" not in err            # not replayed line by line
    assert "warnings: PS403 x2 (2 stories)" in err and "prodscale diagnostics" in err
    assert out.splitlines()[0] == "3 stories up to date (3 complete)"
    code, out, err = run(capsys, "build", "-q", "-C", str(root))
    assert code == 0 and err == "" and out.splitlines()[-1].startswith("0 action(s) executed")


def test_json_still_lists_every_finding(tmp_path: Path, capsys) -> None:
    root = project(tmp_path)
    build_json(capsys, root)
    code, rep = build_json(capsys, root)
    assert [d["code"] for d in rep["stories"]["w1"]["diagnostics"] if d["severity"] == "warning"] == ["PS403"]


def test_diagnostics_command_text_json_and_sarif(tmp_path: Path, capsys) -> None:
    root = project(tmp_path)
    code, out, _ = run(capsys, "diagnostics", "--code", "PS403", "-C", str(root))
    assert code == 0 and out.count("warning[PS403]") == 2 and "2 finding(s) in 2 of 3 stories (2 warning)" in out
    code, out, _ = run(capsys, "diagnostics", "w1", "--format", "json", "--severity", "warning", "-C", str(root))
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert [(r["code"], r["story"], r["file"]) for r in rows] == [("PS403", "w1", "stories/w1.fountain")]
    code, out, _ = run(capsys, "diagnostics", "--format", "sarif", "--code", "PS403", "-C", str(root))
    doc = orjson.loads(out)
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run0 = doc["runs"][0]
    assert [r["id"] for r in run0["tool"]["driver"]["rules"]] == ["PS403"]
    res = run0["results"]
    assert len(res) == 2 and res[0]["ruleId"] == "PS403" and res[0]["level"] == "warning"
    region = res[0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 3 and region["startColumn"] == 1
    assert res[0]["partialFingerprints"]["prodscale/v1"]
    code, _, err = run(capsys, "diagnostics", "nosuch", "-C", str(root))
    assert code == 2 and "no story named 'nosuch'" in err


def test_an_acknowledged_warning_is_a_sarif_suppression(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"w1": WARNED.replace("INT. BOATHOUSE",
                                                             "INT. BOATHOUSE [[prodscale: allow PS403 timeless]]")})
    code, out, _ = run(capsys, "diagnostics", "--format", "sarif", "--code", "PS403", "-C", str(root))
    res = orjson.loads(out)["runs"][0]["results"]
    assert res[0]["suppressions"] == [{"kind": "inSource", "justification": "timeless"}]
