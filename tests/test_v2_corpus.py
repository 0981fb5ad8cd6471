"""Engine 2.0.0 on every real screenplay of ../shared/corpus: every story compiles (none fails), every
scene has a light, no scene is a secondary slug. Run with ``-s`` for the table (scenes, shots, shots
per page, insert share, pages, status)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson

from conftest import shared_or_skip
from projects import run

CONFIG = '[project]\nname = "Corpus"\nengine = "2.0.0"\n'


def test_corpus_on_engine_2(tmp_path: Path, capsys) -> None:
    corpus = shared_or_skip("corpus")
    proj = tmp_path / "corpus"
    (proj / "stories").mkdir(parents=True)
    (proj / "prodscale.toml").write_text(CONFIG, encoding="utf-8")
    for src in sorted(corpus.rglob("*.fountain")):
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", src.stem).strip("-_.").lower()
        shutil.copyfile(src, proj / "stories" / f"{name}.fountain")
    code, out, err = run(capsys, "build", "-k", "--json", "-C", str(proj))
    assert code in (0, 1), err
    report = orjson.loads(out)
    assert report["failed"] == [] and report["errors"] == []
    rows = []
    for story, outcome in sorted(report["stories"].items()):
        assert outcome["status"] != "failed", story
        folder = proj / "build" / story
        scenes = orjson.loads((folder / "shot_specs.json").read_bytes())["scenes"]
        stats = orjson.loads((folder / "stats.json").read_bytes())
        for sc in scenes:
            if sc["prologue"]:
                continue
            assert sc["light"], (story, sc["heading"])                      # every scene has a light
            assert sc["int_ext"] or (sc["set"] and sc["light"]), (story, sc["heading"])   # never a slug
        shots = [s for sc in scenes for s in sc["shots"]]
        inserts = sum(1 for s in shots if s["size"] == "INSERT")
        pages = max(1, stats["pages_eighths"]) / 8
        rows.append((story, len([s for s in scenes if not s["prologue"]]), len(shots), len(shots) / pages,
                     100 * inserts / max(1, len(shots)), stats["length"], outcome["status"]))
    with capsys.disabled():
        print(f"\n{'script':44} {'scenes':>6} {'shots':>6} {'shots/p':>7} {'insert%':>7} {'pages':>7}  status")
        for r in rows:
            print(f"{r[0][:44]:44} {r[1]:>6} {r[2]:>6} {r[3]:>7.1f} {r[4]:>7.1f} {r[5]:>7}  {r[6]}")
