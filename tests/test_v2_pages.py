"""Engine 2.0.0's page counts against afterwriting's, on real screenplays by others.

tests/fixtures/real_scripts.toml names each script by source (never copied here) with the pages
afterwriting 1.17.3 prints for it (US Letter and A4, without the title page). A count must agree
within 5 % or one page, whichever is larger. The shared corpus is beside a development checkout;
the other scripts are looked for in the folder that PRODSCALE_REAL_SCRIPTS names (fetched from
their repositories; sha256 checked). Run with ``-s`` to see the table.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, SHARED
from prodscale.core.fountain import parse
from prodscale.core.text import normalize_source
from prodscale.core.v2_0 import paginate as P
from prodscale.core.v2_0.reading import read_story
from prodscale.core.v2_0.stages.layout import scene_tokens
from prodscale.storage.project import load_rules

MANIFEST = tomllib.loads((REPO / "tests" / "fixtures" / "real_scripts.toml").read_text(encoding="utf-8"))["script"]
RULES = load_rules("2.0.0").data


def pages(data: bytes, paper: str) -> dict[str, int]:
    story = parse(normalize_source(data))
    stats = RULES["stats.toml"]
    tokens = [t for u in read_story(story, RULES).units for t in scene_tokens(u.payload, stats, paper)]
    return P.story_length(tokens, int(stats["paper"][paper]["lines_per_page"]))


def locate(entry: dict[str, Any]) -> Path | None:
    if "corpus" in entry:
        path = SHARED / "corpus" / entry["corpus"]
    else:
        folder = os.environ.get("PRODSCALE_REAL_SCRIPTS")
        if not folder:
            return None
        path = Path(folder) / entry["file"]
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        return None
    return path


def test_the_manifest_lists_at_least_eight_real_screenplays_with_sources() -> None:
    outside = [e for e in MANIFEST if "corpus" not in e]
    assert len(outside) >= 8
    assert all(e["repo"] and e["path"] and len(e["commit"]) == 40 and len(e["sha256"]) == 64 for e in outside)


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_page_count_matches_afterwriting(entry: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    path = locate(entry)
    if path is None:
        pytest.skip(f"{entry['name']}: not here (../shared/corpus, or set PRODSCALE_REAL_SCRIPTS to a folder of "
                    "the scripts of tests/fixtures/real_scripts.toml)")
    data = path.read_bytes()
    row = []
    for paper in ("letter", "a4"):
        want = int(entry["afterwriting"][paper])
        got = pages(data, paper)
        row.append(f"{paper} {got['pages']:>4} ({P.show_eighths(got['eighths'])}) vs {want:>4}")
        assert abs(got["pages"] - want) <= max(1, want * 5 // 100), (entry["name"], paper, got, want)
    with capsys.disabled():
        print(f"\n  {entry['name'][:40]:40} " + " | ".join(row), end="")
