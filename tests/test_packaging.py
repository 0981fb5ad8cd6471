"""The installed tool finds its rule data, editable or not; the public CLI surface is what we meant."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, copy_example
from projects import run


@pytest.mark.slow
def test_non_editable_install_finds_rules_and_builds(tmp_path: Path) -> None:
    target = tmp_path / "site"
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", ".prodscale", "*.egg-info",
                                                             "__pycache__", "_work", ".hypothesis"))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--target", str(target), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (target / "prodscale" / "rules" / "1.0.0" / "sanitize.toml").is_file()
    assert (target / "prodscale" / "rules" / "README.md").is_file()
    proj = tmp_path / "example"
    copy_example(proj)
    env = dict(os.environ, PYTHONPATH=str(target))
    code = ("import prodscale, sys; from prodscale.storage.project import rules_root; "
            f"assert str(rules_root()).startswith({str(target)!r}), rules_root(); "
            f"sys.argv=['prodscale','build','-C',{str(proj)!r}]; from prodscale.cli.main import entry; entry()")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (proj / "build" / "lantern-keeper" / "prompts.json").is_file()
    # engine 2.0.0 reads its own rule files and word lists from the installed package too
    assert (target / "prodscale" / "rules" / "2.0.0" / "lists" / "real_people.tsv").is_file()
    cfg = proj / "prodscale.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('engine = "1.0.0"', 'engine = "2.0.0"'), encoding="utf-8")
    shutil.rmtree(proj / "build")
    shutil.rmtree(proj / ".prodscale")
    (proj / "prodscale.lock").unlink()
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (proj / "build" / "lantern-keeper" / "stats.json").is_file()


def test_help_lists_every_command(capsys) -> None:
    code, out, err = run(capsys, "--help")
    assert code == 0
    for name in ("build", "status", "why", "graph", "cache", "init", "parse", "explain"):
        assert f"  {name}" in out


def test_explain_prints_documentation_and_rejects_unknown_codes(capsys) -> None:
    code, out, err = run(capsys, "explain", "PS403")
    assert code == 0 and out.startswith("PS403 ") and "Example that triggers it" in out
    code, out, err = run(capsys, "explain", "PS999")
    assert code == 2 and "unknown diagnostic code" in err


def test_init_creates_a_project_that_builds(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "init", str(tmp_path / "new"))
    assert code == 0
    code, out, err = run(capsys, "build", "-C", str(tmp_path / "new"))
    assert code == 0, err
    assert (tmp_path / "new" / "build" / "first-story" / "shot_specs.json").is_file()
    import tomllib
    # engine 2.0.0 shipped with issue 13: the default of init and of new stories
    assert 'engine = "2.0.0"' in (tmp_path / "new" / "prodscale.toml").read_text(encoding="utf-8")
    lock = tomllib.loads((tmp_path / "new" / "prodscale.lock").read_text(encoding="utf-8"))
    assert lock["stories"]["first-story"]["engine"] == "2.0.0"
    code, out, err = run(capsys, "init", str(tmp_path / "new"))
    assert code == 2 and "already exists" in err
    code, out, err = run(capsys, "-C", str(tmp_path / "new"), "status")
    assert code == 0 and out.strip() == "first-story: up to date (complete)"


def test_a_project_without_an_engine_puts_new_stories_on_2_0_0(tmp_path: Path, capsys) -> None:
    import tomllib

    from prodscale.core.engines import newest
    from prodscale.core.settings import DEFAULT_ENGINE
    assert DEFAULT_ENGINE == newest() == "2.0.0"
    root = tmp_path / "p"
    (root / "stories").mkdir(parents=True)
    (root / "prodscale.toml").write_text('[project]\nname = "p"\n', encoding="utf-8")
    (root / "stories" / "a.fountain").write_text("INT. HALL - DAY\n\nNELL (40) waits.\n", encoding="utf-8")
    code, out, err = run(capsys, "build", "-C", str(root))
    assert code == 0, err
    lock = tomllib.loads((root / "prodscale.lock").read_text(encoding="utf-8"))
    assert lock["stories"]["a"]["engine"] == "2.0.0"
