"""The example production's outputs, reviewed by eye once, held byte for byte.

The example is on engine 2.0.0 (since it shipped with issue 13; before, 1.0.0). Update deliberately with
`pytest tests/test_golden_example.py --update-golden` and review the diff: a change here means engine
2.0.0's output changed, which a shipped engine must never do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import REPO
from projects import run, tree_bytes

GOLDEN = REPO / "tests" / "golden" / "example_project"


def test_example_outputs_match_golden(example_copy: Path, capsys, update_golden: bool) -> None:
    code, out, err = run(capsys, "build", "-C", str(example_copy))
    assert code == 0, err
    got = tree_bytes(example_copy / "build")
    got["build.stderr.txt"] = err.encode("utf-8")
    if update_golden:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, data in got.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_bytes(data)
    want = tree_bytes(GOLDEN)
    assert sorted(got) == sorted(want)
    for rel in sorted(want):
        assert got[rel] == want[rel], f"{rel} differs from tests/golden/example_project/{rel}"


def test_clip_and_shot_ids_are_unique_per_story(example_copy: Path, capsys) -> None:
    import orjson
    code, out, err = run(capsys, "build", "-C", str(example_copy))
    assert code == 0, err
    for folder in sorted((example_copy / "build").iterdir()):
        clips = orjson.loads((folder / "prompts.json").read_bytes())["clips"]
        ids = [c["id"] for c in clips]
        assert len(ids) == len(set(ids)), folder.name
        specs = orjson.loads((folder / "shot_specs.json").read_bytes())
        pairs = [(sc["scene"], sh["number"]) for sc in specs["scenes"] for sh in sc["shots"]]
        assert len(pairs) == len(set(pairs)), folder.name
