"""``prodscale parse FILE``: show how prodscale reads a screenplay.

Text output lists the title page, the prologue, each scene (number, heading, line range,
characters) and the parser's warnings rendered like compiler diagnostics. ``--json`` prints the
whole model as one JSON object (sorted keys).

``--engine 2.0.0`` shows how that engine reads it on top of the tokenizer (what its stages
compile): each scene with the number every output uses, INT/EXT, set and area, the light and
where it came from, modifiers, INTERCUT, secondary slugs, structure and the cast; with ``--json``
the scene units themselves (spans scene-relative, ``line_offset`` beside them).
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
@click.option("--engine", "engine", default=None, metavar="VERSION",
              help="Also show how this engine reads the script (2.0.0: scenes, slugs, light, cast).")
def command(file: str, as_json: bool, prefixes: tuple[str, ...], engine: str | None) -> None:
    """Show how prodscale reads the screenplay FILE."""
    import orjson

    from prodscale.core.diagnostics import render_text
    from prodscale.core.fountain import parse

    story = parse(_read(file), path=file, heading_prefixes=prefixes)
    if engine is not None:
        _engine_view(story, file, engine, prefixes, as_json)
        return
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


def _engine_view(story: object, file: str, version: str, prefixes: tuple[str, ...], as_json: bool) -> None:
    import orjson

    from prodscale.core.diagnostics import Diagnostic, render_text
    from prodscale.core.engines import get_engine
    from prodscale.core.model import Span
    from prodscale.core.stages._text import rules_by_code
    from prodscale.storage.project import load_rules

    engine = get_engine(version)
    rules = load_rules(version).data
    reading = engine.read(story, rules, prefixes)
    if as_json:
        units = [{"index": u.index, "number": u.number, "line_offset": u.line_offset, "first_line": u.first_line,
                  "last_line": u.last_line, "scene": u.payload} for u in reading.units]
        click.echo(orjson.dumps({"engine": version, "scenes": units, **reading.meta},
                                option=orjson.OPT_SORT_KEYS).decode())
        return
    out = [f"engine {version}: {sum(1 for u in reading.units if not u.payload.get('prologue'))} scenes"]
    for u in reading.units:
        p = u.payload
        if p.get("prologue"):
            out.append(f"  {'0':>6}  (before the first scene heading)  [lines {u.first_line}-{u.last_line}]")
        else:
            light = p.get("light") or "no light"
            if p.get("light_from") in ("continuation", "assumed"):
                light += f" ({p['light_from']})"
            where = " - ".join(x for x in (p.get("set"), p.get("area")) if x) or "(no place)"
            out.append(f"  {p['number']:>6}  {p.get('int_ext') or '?'} | {where} | {light}"
                       f"  [lines {u.first_line}-{u.last_line}]")
        extra = []
        if p.get("modifiers"):
            extra.append("modifiers: " + ", ".join(p["modifiers"]))
        if p.get("intercut"):
            extra.append("intercut with " + " / ".join(p["intercut"]["locations"]))
        slugs = [e for e in p["elements"] if e["kind"] == "slug"]
        if slugs:
            extra.append("slugs: " + "; ".join(e["text"] for e in slugs[:6]) + (" ..." if len(slugs) > 6 else ""))
        labels = [e["text"] for e in p["elements"] if e["kind"] in ("structure", "card")]
        if labels:
            extra.append("structure: " + "; ".join(labels))
        if p.get("cast"):
            extra.append("cast: " + ", ".join(c["name"] for c in p["cast"]))
        out.extend(f"          {x}" for x in extra)
    click.echo("\n".join(out))
    codes = rules_by_code(rules.get("reading.toml"))
    lines = getattr(story, "text", "").split("\n")
    diags = reading.meta.get("reading_diagnostics", [])
    for d in diags:
        rule = codes[d["code"]]
        diag = Diagnostic(rule["level"], d["code"], rule["message"].replace("{match}", d["match"]),
                          Span.from_dict(d["span"]), help=rule["help"])
        click.echo(render_text(diag, file, lines), err=True)
