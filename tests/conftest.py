"""Shared fixtures: an isolated environment and small projects written by us."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXAMPLE = REPO / "example_project"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No colour, fixed locale and timezone, a private HOME, SOURCE_DATE_EPOCH set."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    # reproducible builds: manifests record this instead of the wall clock (tests that need the
    # clock delete it themselves); subprocess builds inherit it
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A fresh copy of example_project/ without any build state."""
    return copy_example(tmp_path / "example")


def copy_example(dest: Path) -> Path:
    """example_project/ as committed: without what building it in place leaves behind (the README's
    first command does), its outputs, its state and the lock that pins its stories."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("build", ".prodscale", "prodscale.lock"))
    return dest


def shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only beside a development checkout)")
    return path


__all__ = ["REPO", "SHARED", "EXAMPLE", "copy_example", "shared_or_skip", "os"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from today's outputs (review the diff before committing)")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
