"""The public API (`prodscale/__init__.py`): the exported surface is exactly what `__all__` says (httpx's
test_exported_members), every name resolves and is documented, and the calls do what the CLI does."""

from __future__ import annotations

import importlib.metadata
import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import prodscale
from projects import make_project, story

ROOT = Path(__file__).resolve().parents[1]


def test_the_exported_members_are_exactly_all() -> None:
    # what a user sees (subpackages such as prodscale.cli become attributes once imported: not API)
    public = {name for name, value in vars(prodscale).items() if not name.startswith("_")
              and not inspect.ismodule(value)} | {"__version__"}
    assert public <= set(prodscale.__all__), public - set(prodscale.__all__)   # no stray module-level names
    assert {n for n in dir(prodscale) if not n.startswith("__")} | {"__version__"} == set(prodscale.__all__)
    assert prodscale.__all__ == sorted(prodscale.__all__)
    for name in prodscale.__all__:
        value = getattr(prodscale, name)
        if name != "__version__":
            assert inspect.getdoc(value), f"{name} has no docstring"
            assert value.__module__.startswith("prodscale."), name


def test_version_is_the_packages() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert prodscale.__version__ == declared == importlib.metadata.version("prodscale")


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        prodscale.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_importing_prodscale_is_cheap() -> None:
    """`import prodscale` loads none of the builder, the stages or the CLI: names come on first use."""
    code = ("import sys, prodscale; print(sorted(m for m in sys.modules if m.startswith('prodscale.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_build_status_why_verify_through_the_api(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1)})
    project = prodscale.load_project(root / "stories")          # a folder inside the project finds its root
    assert project.root == root.resolve() or project.root == root
    report = prodscale.build(project, jobs=1)
    assert isinstance(report, prodscale.BuildReport) and report.exit_code == 0
    assert sorted(report.stories) == ["alpha", "beta"] and report.executed
    assert [r["state"] for r in prodscale.status(project)] == ["up-to-date", "up-to-date"]
    again = prodscale.build(prodscale.load_project(root), jobs=1)
    assert again.executed == [] and again.cached > 0
    checked = prodscale.verify(project)
    assert checked.ok and checked.stories == ["alpha", "beta"] and not checked.rebuilt
    expl = prodscale.why(project, "alpha")
    assert isinstance(expl, dict) and expl
    (root / "build" / "alpha" / "shot_specs.json").write_bytes(b"{}")
    bad = prodscale.verify(project)
    assert not bad.ok and any(f.story == "alpha" and f.level == "error" for f in bad.findings)


def test_errors_are_the_clis(tmp_path: Path) -> None:
    try:
        prodscale.load_project(tmp_path)
    except prodscale.ProdscaleError as exc:
        assert exc.exit_code == 2 and "prodscale.toml" in exc.render()
    else:
        raise AssertionError("no error for a folder without a project")
