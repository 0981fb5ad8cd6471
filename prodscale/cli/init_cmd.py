"""``prodscale init``: make a folder a prodscale project."""

from __future__ import annotations

from pathlib import Path

import click

from prodscale.errors import UsageError

TEMPLATE = '''[project]
name = "{name}"
engine = "2.0.0"          # engine new stories are pinned to on their first build
profile = "generic"       # generator profile for prompts (see rules/<engine>/prompts.toml)
stories = "stories"       # folder of *.fountain screenplays
heading_prefixes = []     # extra scene-heading prefixes for scripts not in English, e.g. ["ИНТ.", "НАТ."]

[style]
look = "natural light, 35mm film grain"
aspect = "16:9"
negative = "text, watermark, logo"

# One table per character, so a character looks the same in every prompt:
# [characters.MARA]
# description = "woman in her thirties, short black hair, yellow raincoat"
'''

STORY = '''Title: First Story
Author: You

INT. KITCHEN - DAY

A small kitchen. MARA (30s) fills a KETTLE at the sink.

MARA
Morning already.
'''


@click.command("init")
@click.argument("directory", required=False, default=".")
@click.option("--name", default=None, help="Production name (default: the folder name).")
def command(directory: str, name: str | None) -> None:
    """Create prodscale.toml, stories/ with a first story, and a .gitignore in DIRECTORY."""
    from prodscale.storage.fs import atomic_write, make_dirs

    root = Path(directory).resolve()
    config = root / "prodscale.toml"
    if config.exists():
        raise UsageError(f"{config.name} already exists in {root}", hint="nothing to do; run `prodscale build`")
    make_dirs(root)
    atomic_write(config, TEMPLATE.format(name=(name or root.name).replace('"', "'")).encode("utf-8"))
    stories = root / "stories"
    make_dirs(stories)
    if not any(stories.glob("*.fountain")):
        atomic_write(stories / "first-story.fountain", STORY.encode("utf-8"))
    ignore = root / ".gitignore"
    if not ignore.exists():
        atomic_write(ignore, b"/build/\n/.prodscale/\n")
    click.echo(f"initialized a prodscale project in {root}\nnext: prodscale -C {directory} build"
               if directory != "." else f"initialized a prodscale project in {root}\nnext: prodscale build")
