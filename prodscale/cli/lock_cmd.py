"""``prodscale lock show``: each story's pin and last compilation, as a table; ``prodscale lock prune``:
remove, on purpose, the pins of stories whose file is absent (a build never drops a pin by itself)."""

from __future__ import annotations

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


@click.group("lock")
def group() -> None:
    """Inspect prodscale.lock (engine pins and compilation hashes)."""


@group.command("show")
@json_option
@project_option
def show(as_json: bool, project_dir: str | None) -> None:
    """Print the lock as a table."""
    from prodscale.storage.lockfile import LockFile

    lock = LockFile.load(open_project(project_dir).root)
    if as_json:
        echo_json({"stories": lock.stories})
        return
    rows: list[tuple[str, ...]] = [("STORY", "ENGINE", "FLOOR", "STORY HASH", "SHOT SPECS", "PROMPTS", "COMPILATION")]
    for name in sorted(lock.stories):
        e = lock.stories[name]
        rows.append((name, e.get("engine", "?"), e.get("floor", "?"),
                     *(str(e.get(k, ""))[:10] for k in ("story_hash", "shot_specs_hash", "prompts_hash",
                                                         "compilation_hash"))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())
    if len(rows) == 1:
        click.echo("(no story pinned yet: run prodscale build)")


@group.command("prune")
@json_option
@project_option
def prune(as_json: bool, project_dir: str | None) -> None:
    """Remove the pins of stories that have no story file any more."""
    from prodscale.exec.lock_prune import prune_absent

    removed = prune_absent(open_project(project_dir))
    if as_json:
        echo_json({"removed": removed})
        return
    for name in removed:
        click.echo(f"removed the pin of '{name}'")
    if not removed:
        click.echo("every pin has its story: nothing to prune")
