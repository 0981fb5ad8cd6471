"""Pruning the lock: the one way a pin is removed, on purpose (a build keeps the pin of a story whose file
is absent, so a rename undone or a mistyped folder fixed never moves a story to another engine)."""

from __future__ import annotations

from typing import Any

from prodscale.storage.lock import ProjectLock
from prodscale.storage.lockfile import LockFile


def prune_absent(project: Any) -> list[str]:
    """Remove the pins of stories with no story file, under the project lock; the names removed, sorted."""
    files, errors = project.story_files()
    present = {sf.name for sf in files} | {str(e.path or "").rsplit("/", 1)[-1].removesuffix(".fountain")
                                           for e in errors}
    with ProjectLock(project.state_dir, "prodscale lock prune").acquire(wait=True):
        lock = LockFile.load(project.root)
        removed = sorted(set(lock.stories) - present)
        for name in removed:
            del lock.stories[name]
        if removed:
            lock.save()
    return removed
