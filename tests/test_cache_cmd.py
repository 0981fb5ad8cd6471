"""`prodscale cache stats|ls|show|verify|clear` on a built project (issue 14: the cache commands had no test)."""

from __future__ import annotations

from pathlib import Path

import orjson

from projects import build_json, make_project, run, story


def test_the_cache_commands_report_what_the_cache_holds(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    code, rep = build_json(capsys, root)
    assert code == 0
    code, out, _ = run(capsys, "cache", "stats", "--json", "-C", str(root))
    stats = orjson.loads(out)
    assert stats["actions"] > 0 and stats["blobs"] > 0 and stats["bytes"] > 0
    code, out, _ = run(capsys, "cache", "ls", "--json", "-C", str(root))
    rows = orjson.loads(out)["actions"]
    targets = {r["target"] for r in rows}
    assert "alpha#1:sanitize" in targets and len(rows) == stats["actions"]
    key = next(r["key"] for r in rows if r["target"] == "alpha#1:sanitize")
    code, out, _ = run(capsys, "cache", "show", key[:12], "-C", str(root))
    shown = orjson.loads(out)
    assert code == 0 and shown["key"] == key and shown["record"]["target"] == "alpha#1:sanitize"
    code, out, err = run(capsys, "cache", "show", "", "-C", str(root))
    assert code == 2 and "give a longer key prefix" in err
    code, out, _ = run(capsys, "cache", "verify", "--json", "-C", str(root))
    assert code == 0 and orjson.loads(out)["corrupt"] == []
    code, out, _ = run(capsys, "cache", "clear", "-C", str(root))
    assert code == 0 and "cleared" in out
    code, out, _ = run(capsys, "cache", "stats", "--json", "-C", str(root))
    assert orjson.loads(out)["actions"] == 0
    code, rep = build_json(capsys, root)   # the outputs are intact: nothing to recompute, the cache only speeds up
    assert code == 0 and rep["executed"] == []
    (root / "stories" / "alpha.fountain").write_text(story(3), encoding="utf-8")
    code, rep = build_json(capsys, root)   # an edit: every scene runs again (the cache was emptied)
    assert code == 0 and {t.split(":")[0] for t in rep["executed"]} >= {"alpha#1", "alpha#2", "alpha#3"}
