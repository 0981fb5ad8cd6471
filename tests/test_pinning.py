"""Engine pinning, manifests and verification: January's prototype is July's prototype."""

from __future__ import annotations

import tomllib
from pathlib import Path

import orjson
import pytest

from projects import build_json, make_project, run, story, tree_bytes
from prodscale.core.engines import ENGINES

# The compilation hash of every example story under every shipped engine. A change here means a
# shipped engine's output changed: that must never happen (ship a new engine instead).
GOLDEN_HASHES = {
    "1.0.0": {
        "lantern-keeper": "4ce84b34ddae6f644e57a88d0866003f5907c8a1a04adf52e877189e643f5c79",
        "orbital-orchard": "801a0c46273b36738e77564d972ecf72cc8d5745355c26f027acdd0bd7761f82",
        "soup-of-the-day": "f7e51e5b2c0f7d1063439560aa1ac9e2c932b28daf28aebaf18b9cacf9c2c33a",
        "the-hilltop-postbox": "e33a7ac47329150898368abac0afd8f519a540b2d2c859dc34fc13188413381d",
        "the-unfinished-boat": "9431688d6545b6952a066a2aac106a949f2a0ca4b6d2d315eda27f353d948e7d",
    },
    "1.1.0": {
        "lantern-keeper": "ce77459da65aac8ab47b3ddd7c3e8caff9f3164bdb391444cebd2b8f2c7e51cf",
        "orbital-orchard": "f7c3e2e45916a144a9980f3dd9f47f6f767948643a9c7afab971248fae596e95",
        "soup-of-the-day": "99cc09d7a954c6928b053a3845e80847ce1ffc6eba37ea616217dad8b223701b",
        "the-hilltop-postbox": "5523d36a91077c954adbc1ef31d5d5d6de42ba2ffaa3c401eb0c1039b999c90f",
        "the-unfinished-boat": "4284ec08d946afb410749e965ba688c93855396424d5153bbbe61991db8ec4a6",
    },
    "2.0.0": {   # shipped with issue 13 (2026-12-01)
        "lantern-keeper": "f9ccc422c3a3449ea85c0fdce8dd44ec15b0ec57663f6bb0c76b515e2756f054",
        "orbital-orchard": "0e1499192d3c69e1103769261deae62cf0e8c3018f2bae17d14edbe0ea059ddf",
        "soup-of-the-day": "3f7081661ff3acb13bd2f9a3b6a3f2b2b59b7177480d7079e44ac9add55d1caf",
        "the-hilltop-postbox": "947d13dc1a9c6ad45769b089c416dfcf85f0efbdd3698325d0443ceff5298ad1",
        "the-unfinished-boat": "5562fa1dadf61da16c3be350d4f64db25c4660771dc32e4809ff266d994d8c77",
    },
}


def set_default_engine(root: Path, version: str) -> None:
    cfg = root / "prodscale.toml"
    text = cfg.read_text(encoding="utf-8")
    lines = [f'engine = "{version}"' if line.startswith("engine = ") else line for line in text.split("\n")]
    cfg.write_text("\n".join(lines), encoding="utf-8")


def lock_of(root: Path) -> dict:
    return tomllib.loads((root / "prodscale.lock").read_text(encoding="utf-8"))["stories"]


def test_every_shipped_engine_has_golden_hashes() -> None:
    shipped = [v for v, e in ENGINES.items() if not e.preview]
    assert sorted(GOLDEN_HASHES) == sorted(shipped)
    assert all(v not in GOLDEN_HASHES for v, e in ENGINES.items() if e.preview)  # a preview is not frozen yet


@pytest.mark.parametrize("version", sorted(GOLDEN_HASHES))
def test_golden_compilation_hashes(example_copy: Path, capsys, version: str) -> None:
    set_default_engine(example_copy, version)
    code, rep = build_json(capsys, example_copy)
    assert code == 0, rep
    got = {name: entry["compilation_hash"] for name, entry in lock_of(example_copy).items()}
    assert got == GOLDEN_HASHES[version]
    for name, chash in got.items():
        manifest = orjson.loads((example_copy / "build" / name / "manifest.json").read_bytes())
        assert manifest["compilation_hash"] == chash and manifest["core"]["engine"] == version


def test_engines_really_differ_and_the_change_is_documented() -> None:
    assert GOLDEN_HASHES["1.0.0"]["lantern-keeper"] != GOLDEN_HASHES["1.1.0"]["lantern-keeper"]
    changes = (Path(__file__).resolve().parents[1] / "CHANGES.md").read_text(encoding="utf-8")
    assert "## Engine 1.1.0" in changes


def test_manifest_txt_layout(example_copy: Path, capsys) -> None:
    set_default_engine(example_copy, "1.0.0")   # the example as it was on 1.0.0 (it is on 2.0.0 now)
    build_json(capsys, example_copy)
    lines = (example_copy / "build" / "the-unfinished-boat" / "manifest.txt").read_text(encoding="utf-8").split("\n")
    assert [line.split(":", 1)[0] for line in lines if line][1:] == [
        "Engine Version", "Compiled At", "Run ID", "Story Hash", "Shot Specs Hash", "Prompt Hash",
        "Compilation Status", "SRC Status", "Prompts Ready", "Platform Safety", "Version Pin"]
    assert lines[0] == "PRODSCALE — Compilation Manifest"
    assert lines[2] == "Compiled At: 2026-01-01T00:00:00Z"  # SOURCE_DATE_EPOCH from conftest
    lock = lock_of(example_copy)["the-unfinished-boat"]
    assert lines[4] == f"Story Hash: {lock['story_hash'][:10]}..."
    assert lines[8] == "SRC Status: Complete with warnings (8 scenes validated, 1 with warnings)"
    assert lines[11] == ("Version Pin: This story will always compile on Engine 1.0.0. "
                         "Re-analysis available with any engine version >= 1.0.0.")


def test_compiled_at_uses_the_clock_without_source_date_epoch(tmp_path: Path, capsys,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    build_json(capsys, root)
    doc = orjson.loads((root / "build" / "alpha" / "manifest.json").read_bytes())
    assert doc["run"]["compiled_at"] != "2026-01-01T00:00:00Z" and doc["run"]["compiled_at"].endswith("Z")
    before = tree_bytes(root / "build")
    import shutil
    shutil.rmtree(root / ".prodscale")
    build_json(capsys, root)  # unchanged compilation: the run record is kept, bytes identical
    assert tree_bytes(root / "build") == before


def test_pinning_end_to_end(example_copy: Path, capsys) -> None:
    set_default_engine(example_copy, "1.0.0")   # the example as it was on 1.0.0 (it is on 2.0.0 now)
    build_json(capsys, example_copy)
    before = tree_bytes(example_copy / "build")
    set_default_engine(example_copy, "1.1.0")
    (example_copy / "stories" / "newcomer.fountain").write_text(story(3, title="Newcomer"), encoding="utf-8")
    code, rep = build_json(capsys, example_copy)
    assert code == 0
    lock = lock_of(example_copy)
    assert lock["newcomer"]["engine"] == "1.1.0"
    assert {lock[n]["engine"] for n in lock if n != "newcomer"} == {"1.0.0"}
    after = tree_bytes(example_copy / "build")
    assert {k: v for k, v in after.items() if not k.startswith("newcomer/")} == before
    assert rep["executed"] == [t for t in rep["executed"] if t.startswith("newcomer")]
    # move one story on purpose
    code, out, err = run(capsys, "reanalyze", "lantern-keeper", "--engine", "1.1.0", "--dry-run", "-C",
                         str(example_copy))
    assert code == 0 and "would move from engine 1.0.0 to 1.1.0" in out and "shots changed" in out
    assert lock_of(example_copy)["lantern-keeper"]["engine"] == "1.0.0"
    assert tree_bytes(example_copy / "build") == after
    code, out, err = run(capsys, "reanalyze", "lantern-keeper", "--engine", "1.1.0", "-C", str(example_copy))
    assert code == 0 and "moved from engine 1.0.0 to 1.1.0" in out
    lock = lock_of(example_copy)
    assert lock["lantern-keeper"]["engine"] == "1.1.0"
    assert lock["lantern-keeper"]["compilation_hash"] == GOLDEN_HASHES["1.1.0"]["lantern-keeper"]
    txt = (example_copy / "build" / "lantern-keeper" / "manifest.txt").read_text(encoding="utf-8")
    assert "Engine Version: 1.1.0" in txt and "compile on Engine 1.1.0" in txt
    code, rep = build_json(capsys, example_copy)
    assert rep["executed"] == [] and rep["stories"]["lantern-keeper"]["engine"] == "1.1.0"
    code, out, err = run(capsys, "lock", "show", "-C", str(example_copy))
    assert code == 0 and out.split("\n")[0].split() == ["STORY", "ENGINE", "FLOOR", "STORY", "HASH", "SHOT",
                                                         "SPECS", "PROMPTS", "COMPILATION"]
    assert any(line.startswith("lantern-keeper") and "1.1.0" in line for line in out.split("\n"))


DIRECTED = ("Title: Directed\n\nINT. STUDIO - DAY\n\nMIRA paints a wide canvas.\n\n[[shot: CU]]\n\n"
            "MIRA\nAlmost there.\n\n")


def test_a_story_using_a_newer_feature_is_pinned_to_its_floor_and_cannot_go_below(tmp_path: Path,
                                                                                   capsys) -> None:
    root = make_project(tmp_path / "p", {"directed": DIRECTED})
    code, rep = build_json(capsys, root)
    assert code == 0
    entry = lock_of(root)["directed"]
    assert entry["engine"] == "1.1.0" and entry["floor"] == "1.1.0"
    specs = orjson.loads((root / "build" / "directed" / "shot_specs.json").read_bytes())
    shots = [s for sc in specs["scenes"] for s in sc["shots"]]
    assert any(s["size"] == "CU" and "writer directive: CU" in s["notes"] for s in shots)
    code, out, err = run(capsys, "reanalyze", "directed", "--engine", "1.0.0", "-C", str(root))
    assert code == 2 and "refused" in err and "floor is 1.1.0" in err
    assert lock_of(root)["directed"]["engine"] == "1.1.0"


def test_unknown_pin_and_malformed_lock_are_clear_errors_that_lose_nothing(example_copy: Path, capsys) -> None:
    set_default_engine(example_copy, "1.0.0")   # the example as it was on 1.0.0 (it is on 2.0.0 now)
    build_json(capsys, example_copy)
    before = tree_bytes(example_copy / "build")
    lock_path = example_copy / "prodscale.lock"
    good = lock_path.read_text(encoding="utf-8")
    lock_path.write_text(good.replace('engine = "1.0.0"', 'engine = "9.9.9"', 1), encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(example_copy))
    assert code == 2 and "9.9.9" in err and "reanalyze" in err
    assert tree_bytes(example_copy / "build") == before
    lock_path.write_text(good.replace("[stories.soup-of-the-day]", "[stories.soup-of-the-day"), encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(example_copy))
    assert code == 2 and "prodscale.lock:" in err and "malformed" in err
    assert lock_path.read_text(encoding="utf-8") != good  # left for the user to restore, never overwritten
    assert tree_bytes(example_copy / "build") == before


@pytest.mark.parametrize("victim", ["shot_specs.json", "prompts.json", "src.json", "diagnostics.json",
                                    "shot_list.csv", "manifest.json", "manifest.txt", "LOCK"])
def test_verify_catches_tampering_with_the_file_named(example_copy: Path, capsys, victim: str) -> None:
    build_json(capsys, example_copy)
    code, out, err = run(capsys, "verify", "-C", str(example_copy))
    assert code == 0, err
    if victim == "LOCK":
        path = example_copy / "prodscale.lock"
        text = path.read_text(encoding="utf-8")
        entry_hash = lock_of(example_copy)["orbital-orchard"]["prompts_hash"]
        path.write_text(text.replace(entry_hash, "0" * 64), encoding="utf-8")
        named = "prodscale.lock"
    else:
        path = example_copy / "build" / "orbital-orchard" / victim
        data = path.read_bytes()
        path.write_bytes(data.replace(b"e", b"E", 1) if b"e" in data else data + b" ")
        named = f"build/orbital-orchard/{victim}"
    code, out, err = run(capsys, "verify", "-C", str(example_copy))
    assert code == 3
    assert named in err and "orbital-orchard: FAILED" in out
    assert "lantern-keeper: ok" in out


def test_verify_reports_missing_outputs(example_copy: Path, capsys) -> None:
    build_json(capsys, example_copy)
    (example_copy / "build" / "soup-of-the-day" / "src.json").unlink()
    code, out, err = run(capsys, "verify", "--json", "-C", str(example_copy))
    assert code == 3
    findings = orjson.loads(out)["findings"]
    assert findings == [{"story": "soup-of-the-day", "file": "build/soup-of-the-day/src.json",
                         "problem": "missing", "level": "error"}]


def test_verify_rebuild_passes_on_a_clean_project_and_catches_drift(example_copy: Path, capsys) -> None:
    build_json(capsys, example_copy)
    code, out, err = run(capsys, "verify", "--rebuild", "-C", str(example_copy))
    assert code == 0, err
    assert "a clean rebuild" in out
    # a tampered output that also fools the manifest and the lock is still caught by the rebuild
    path = example_copy / "build" / "the-hilltop-postbox" / "shot_list.csv"
    path.write_bytes(path.read_bytes() + b"9,9,9\n")
    code, out, err = run(capsys, "verify", "--rebuild", "-C", str(example_copy))
    assert code == 3 and "build/the-hilltop-postbox/shot_list.csv" in err


def test_drift_alarm_stops_instead_of_overwriting_the_lock(tmp_path: Path, capsys,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    root = make_project(tmp_path / "p", {"alpha": story(3)})
    build_json(capsys, root)
    lock_before = (root / "prodscale.lock").read_bytes()
    out_before = tree_bytes(root / "build")
    # simulate a changed implementation of a shipped engine: same inputs, different output
    from prodscale.core.stages import shot_specs
    original = shot_specs.build_shots

    def drifting(scene, data):  # type: ignore[no-untyped-def]
        shots, diags = original(scene, data)
        for shot in shots:
            shot["lens_mm"] = shot["lens_mm"] + 1
        return shots, diags

    monkeypatch.setattr(shot_specs, "build_shots", drifting)
    shutil.rmtree(root / ".prodscale")
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 3 and "drift" in err and "alpha" in err
    assert (root / "prodscale.lock").read_bytes() == lock_before
    assert tree_bytes(root / "build") == out_before
