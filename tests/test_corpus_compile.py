"""Every real screenplay of ../shared/corpus compiles without a crash, with sensible shots.

The scripts are copied into a temporary project at test time (never into the repository). Run
with `-s` to see the summary table: scenes, shots, clips, blocked clips, SRC failures per script.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson

from conftest import shared_or_skip
from projects import CONFIG, run


def test_corpus_compiles_without_crash(tmp_path: Path, capsys) -> None:
    corpus = shared_or_skip("corpus")
    scripts = sorted(corpus.rglob("*.fountain"))
    assert scripts
    proj = tmp_path / "corpus"
    (proj / "stories").mkdir(parents=True)
    (proj / "prodscale.toml").write_text(CONFIG, encoding="utf-8")
    for src in scripts:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", src.stem).strip("-_.").lower()
        shutil.copyfile(src, proj / "stories" / f"{name}.fountain")
    code, out, err = run(capsys, "build", "-k", "--json", "-C", str(proj))
    assert code in (0, 1), err  # 1: a story is blocked or failed its checks; never a crash or input error
    report = orjson.loads(out)
    assert report["failed"] == [] and report["errors"] == []
    rows = []
    for story in sorted(report["stories"]):
        folder = proj / "build" / story
        specs = orjson.loads((folder / "shot_specs.json").read_bytes())
        prompts = orjson.loads((folder / "prompts.json").read_bytes())
        src = orjson.loads((folder / "src.json").read_bytes())
        scenes = specs.get("scenes", [])
        shots = [shot for sc in scenes for shot in sc.get("shots", [])]
        clips = prompts.get("clips", [])
        blocked = sum(1 for c in clips if c.get("status") != "ready")
        failed = sum(1 for sc in src.get("scenes", []) if sc.get("status") == "failed")
        if scenes:
            assert shots, f"{story}: scenes but no shots"
            for shot in shots:
                assert shot["duration_ms"] > 0 and shot["size"]
        rows.append((story, len(scenes), len(shots), len(clips), blocked, failed,
                     report["stories"][story]["status"]))
    with capsys.disabled():
        print("\ncorpus compile summary")
        print(f"{'script':52} {'scenes':>6} {'shots':>6} {'clips':>6} {'blocked':>7} {'SRC fail':>8}  status")
        for r in rows:
            print(f"{r[0]:52} {r[1]:>6} {r[2]:>6} {r[3]:>6} {r[4]:>7} {r[5]:>8}  {r[6]}")
