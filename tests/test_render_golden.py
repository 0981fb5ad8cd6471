"""Golden tests of what the user reads, byte for byte (ninja's output_test.py): `status`, `build`, `why`
(story and scene targets, with the diff), `explain`, `diagnostics`, `verify` and an error, on a fixture
production of our own (tests/fixtures/render_project). A change to any of these texts shows up here as a
diff to read and accept on purpose: `PRODSCALE_UPDATE_GOLDEN=1 pytest tests/test_render_golden.py`.

Only the build's duration is normalized (the one figure that is not the same every run)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from prodscale.cli.main import main

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "render_project"
GOLDEN = HERE / "golden" / "render" / "transcript.txt"


def _session(root: Path, capsys: pytest.CaptureFixture[str]) -> str:
    out: list[str] = []

    def run(*args: str) -> None:
        capsys.readouterr()
        code = main([*args, "-C", str(root)])
        stdout, stderr = capsys.readouterr()
        out.append(f"$ prodscale {' '.join(args)}\n[exit {code}]\n")
        if stdout:
            out.append("--- stdout\n" + stdout)
        if stderr:
            out.append("--- stderr\n" + stderr)
        out.append("\n")

    def edit(rel: str, old: str, new: str) -> None:
        path = root / rel
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        out.append(f"# edit {rel}: {old!r} -> {new!r}\n\n")

    run("status")
    run("build")
    run("status")
    run("diagnostics")
    run("diagnostics", "--severity", "error")
    run("explain", "PS106")
    run("explain", "PS9999")
    edit("stories/quiet.fountain", "Just one more minute.", "Two more minutes, then.")
    run("status")
    run("why", "quiet")
    run("why", "quiet#1:sanitize")
    run("build")
    run("why", "quiet#1:sanitize")
    run("verify")
    (root / "build" / "quiet" / "notes.txt").write_text("mine\n", encoding="utf-8")
    out.append("# add build/quiet/notes.txt\n\n")
    run("verify")
    edit("prodscale.toml", 'aspect = "16:9"', "aspect = 169")
    run("build")
    text = "".join(out)
    return re.sub(r" in \d+\.\d+s\n", " in N.NNs\n", text)


def test_the_texts_users_read_are_byte_for_byte_the_golden(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("COLUMNS", "120")
    root = tmp_path / "render_project"
    shutil.copytree(FIXTURE, root)
    got = _session(root, capsys)
    if os.environ.get("PRODSCALE_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(got, encoding="utf-8")
    want = GOLDEN.read_text(encoding="utf-8")
    assert got == want, "the rendered texts changed: read the diff, then accept with PRODSCALE_UPDATE_GOLDEN=1"
