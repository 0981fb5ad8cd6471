"""prodscale as a library: the calls the CLI makes, for scripts, notebooks and other tools.

Each function takes a :class:`~prodscale.storage.project.Project` (from :func:`load_project`) and
returns data, never text: the CLI renders the same results. Errors are
:class:`~prodscale.errors.ProdscaleError` subclasses carrying the message, the file and line,
a hint and the exit code the CLI would use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prodscale.core.vocab import StatusRow
    from prodscale.exec.builder import BuildReport
    from prodscale.exec.verify import Finding
    from prodscale.storage.project import Project


def load_project(directory: str | os.PathLike[str] | None = None) -> Project:
    """The project whose ``prodscale.toml`` is in ``directory`` or a folder above it (the current folder
    when None), with its settings read and checked."""
    from prodscale.storage.project import Project
    return Project.open(directory)


def build(project: Project, targets: list[str] | None = None, *, jobs: int | None = None,
          executor: str = "local", scheduler: str | None = None, dry_run: bool = False,
          keep_going: bool = False, on_progress: Callable[[dict[str, Any]], None] | None = None) -> BuildReport:
    """Compile the project's stories (or only ``targets``: story names or target ids), as ``prodscale
    build`` does: under the project lock, from the cache where nothing changed. The report says what
    ran, what was cached and each story's outcome; ``report.exit_code`` is the CLI's."""
    from prodscale.exec.builder import Builder
    from prodscale.exec.executors import usable_cores
    from prodscale.exec.options import BuildOptions
    builder = Builder(project, BuildOptions(jobs=jobs or usable_cores(), executor=executor, scheduler=scheduler),
                      on_progress=on_progress)
    return builder.build(list(targets or []), dry_run=dry_run, keep_going=keep_going)


def status(project: Project) -> list[StatusRow]:
    """One row per story: ``state`` ("up-to-date" or why not), the reasons, the outcome of its last build."""
    from prodscale.exec.builder import Builder
    from prodscale.exec.status import story_lines
    return story_lines(Builder(project))


def why(project: Project, target: str) -> dict[str, Any]:
    """Why ``target`` was rebuilt at its last build, or would be now: the changed component and its diff."""
    from prodscale.exec.builder import Builder
    from prodscale.exec.why import explain_target
    return explain_target(Builder(project), target)


@dataclass(frozen=True)
class Verification:
    """What ``verify`` checked and found; ``ok`` when no finding is an error (notes are worth knowing only)."""

    stories: list[str]
    findings: list[Finding]
    rebuilt: bool

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)


def verify(project: Project, stories: list[str] | None = None, *, rebuild: bool = False) -> Verification:
    """Re-hash every output against its manifest and every manifest against the lock; with ``rebuild``,
    also recompile from scratch elsewhere without the cache and compare the bytes."""
    from prodscale.exec.verify import verify_outputs, verify_rebuild
    check = verify_rebuild if rebuild else verify_outputs
    names, findings = check(project, stories)
    return Verification(names, findings, rebuild)
