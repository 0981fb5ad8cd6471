"""Byte-identical outputs wherever and however the project is built."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import copy_example
from projects import tree_bytes


def _build(root: Path, env_extra: dict[str, str], umask: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "TZ", "LC_ALL", "LANG")}
    env.update(env_extra)
    code = (f"import os, sys; os.umask({umask}); sys.argv=['prodscale','build','-C',{str(root)!r}]; "
            "from prodscale.cli.main import entry; entry()")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=300)


def test_same_bytes_across_dirs_hashseed_tz_locale_umask(tmp_path: Path) -> None:
    a = tmp_path / "first" / "prod"
    b = tmp_path / "second place" / "déjà" / "prod"
    for dest in (a, b):
        copy_example(dest)
    ra = _build(a, {"PYTHONHASHSEED": "1", "TZ": "Etc/GMT-14", "LC_ALL": "C", "SOURCE_DATE_EPOCH": "1700000000"},
                0o022)
    rb = _build(b, {"PYTHONHASHSEED": "4242", "TZ": "Pacific/Auckland", "LC_ALL": "C.UTF-8",
                    "SOURCE_DATE_EPOCH": "1700000000"}, 0o077)
    assert ra.returncode == 0, ra.stderr.decode()
    assert rb.returncode == 0, rb.stderr.decode()
    ta, tb = tree_bytes(a / "build"), tree_bytes(b / "build")
    assert ta and ta == tb
    # the outputs are readable by others whatever the umask was
    for p in (b / "build").rglob("*"):
        if p.is_file():
            assert p.stat().st_mode & 0o044 == 0o044


def test_example_project_builds_with_exit_0_and_reports_its_deliberate_finding(example_copy: Path) -> None:
    """INT. BOATHOUSE has no time of day: engine 2.0.0 (the example's engine) takes the light of the scene
    before and says so (PS420, a note); engine 1.0.0 reports it as a warning (PS403)."""
    import shutil

    import orjson
    r = _build(example_copy, {}, 0o022)
    assert r.returncode == 0, r.stderr.decode()
    diags = orjson.loads((example_copy / "build" / "the-unfinished-boat" / "diagnostics.json").read_bytes())
    assert [(d["code"], d["severity"]) for d in diags["diagnostics"] if d["code"] in ("PS403", "PS420")] == \
        [("PS420", "note")]
    cfg = example_copy / "prodscale.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('engine = "2.0.0"', 'engine = "1.0.0"'), encoding="utf-8")
    for stale in ("build", ".prodscale"):
        shutil.rmtree(example_copy / stale)
    (example_copy / "prodscale.lock").unlink()
    r = _build(example_copy, {}, 0o022)
    assert r.returncode == 0 and "warning[PS403]" in r.stderr.decode(), r.stderr.decode()
