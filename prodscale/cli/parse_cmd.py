"""``prodscale parse FILE``: show how prodscale reads a screenplay.

Text output lists the title page, the prologue, each scene (number, heading, line range,
characters) and the parser's warnings rendered like compiler diagnostics. ``--json`` prints the
whole model as one JSON object (sorted keys).
"""

from __future__ import annotations

from pathlib import Path

import click

from prodscale.errors import InputError


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}", path=path) from None


@click.command("parse")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the story model as one JSON object.")
@click.option("--heading-prefix", "prefixes", multiple=True, metavar="PREFIX",
              help="An extra scene-heading prefix (e.g. ИНТ); repeatable.")
def command(file: str, as_json: bool, prefixes: tuple[str, ...]) -> None:
    """Show how prodscale reads the screenplay FILE."""
    import orjson

    from prodscale.core.diagnostics import render_text
    from prodscale.core.fountain import parse

    story = parse(_read(file), path=file, heading_prefixes=prefixes)
    if as_json:
        click.echo(orjson.dumps(story.to_dict(), option=orjson.OPT_SORT_KEYS).decode())
        return
    out: list[str] = []
    if story.title_page:
        out.append("title page:")
        out.extend(f"  {f.key}: {f.value.replace(chr(10), ' / ')}" for f in story.title_page)
    if story.prologue:
        start = story.prologue[0].span.start_line
        end = max(e.span.end_line for e in story.prologue)
        out.append(f"prologue: lines {start}-{end}, {len(story.prologue)} elements")
    out.append(f"scenes: {len(story.scenes)}")
    for index, scene in enumerate(story.scenes, start=1):
        names = sorted({e.name for e in scene.elements if e.kind == "character" and e.name})
        number = f"#{scene.number}" if scene.number else f"({index})"
        out.append(f"  {number:>6}  {scene.heading}  [lines {scene.span.start_line}-{scene.span.end_line}]")
        if names:
            out.append(f"          characters: {', '.join(names)}")
    out.append(f"characters: {', '.join(story.characters) if story.characters else '(none)'}")
    click.echo("\n".join(out))
    if story.warnings:
        lines = story.text.split("\n")
        for w in story.warnings:
            click.echo(render_text(w, file, lines), err=True)
        count = len(story.warnings)
        click.echo(f"{count} warning{'s' if count != 1 else ''}", err=True)
