"""``prodscale diagnostics [STORY...]``: every finding of the stories, filtered, as text, JSON or SARIF.

A build shows in full only the findings of what it compiled and summarises the rest; this lists them
all. It brings the stories up to date first (as ``build`` does, quietly), then reads each story's
``diagnostics.json``. ``--code`` (repeatable) and ``--severity`` filter; ``--format json`` prints one
object per line (the finding with its story, file and engine), ``--format sarif`` one SARIF 2.1.0
document for code-scanning dashboards. Exit 0 even when findings are listed (the build's own exit
code says whether a story is blocked); 2 for an unknown story.
"""

from __future__ import annotations

from typing import Any

import click

from prodscale.cli.common import open_project, project_option, render_diagnostics


@click.command("diagnostics")
@click.argument("stories", nargs=-1)
@click.option("--code", "codes", multiple=True, metavar="PS###", help="Only this code (repeatable).")
@click.option("--severity", type=click.Choice(["error", "warning", "note"]), default=None,
              help="Only findings of this severity.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--no-acknowledged", "hide_acknowledged", is_flag=True, help="Leave out acknowledged findings.")
@project_option
def command(stories: tuple[str, ...], codes: tuple[str, ...], severity: str | None, fmt: str,
            hide_acknowledged: bool, project_dir: str | None) -> None:
    """List the findings of STORY (every story by default)."""
    import orjson

    from prodscale.errors import UsageError
    from prodscale.exec.builder import Builder

    project = open_project(project_dir)
    files, _ = project.story_files()
    known = {sf.name: sf for sf in files}
    names = list(stories) or sorted(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"no story named '{unknown[0]}'", hint="`prodscale status` lists the stories")
    builder = Builder(project)
    builder.build(names, keep_going=True)
    wanted = {c.strip().upper() for c in codes}
    found: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for name in names:
        path = project.build_dir / name / "diagnostics.json"
        if not path.is_file():
            continue   # a story that failed to compile: its error was the build's
        data = orjson.loads(path.read_bytes())
        diags = [d for d in data.get("diagnostics", [])
                 if (not wanted or d["code"] in wanted) and (severity is None or d["severity"] == severity)
                 and not (hide_acknowledged and "acknowledged" in d)]
        story = {"story": name, "path": data.get("path") or known[name].rel_path, "engine": data.get("engine", "")}
        found.append((story, diags))
    if fmt == "sarif":
        from importlib.metadata import version

        from prodscale.cli.common import echo_json
        from prodscale.core.sarif import sarif
        rules = {e: project.rules(e).data for e in sorted({s["engine"] for s, _ in found})}
        echo_json(sarif(found, rules, version("prodscale")))
        return
    if fmt == "json":
        for story, diags in found:
            for d in diags:
                click.echo(orjson.dumps({**d, "story": story["story"], "file": story["path"],
                                         "engine": story["engine"]}, option=orjson.OPT_SORT_KEYS).decode())
        return
    total = 0
    for story, diags in found:
        if not diags:
            continue
        text = (project.root / story["path"]).read_bytes().decode("utf-8", "replace")
        click.echo(render_diagnostics(story["path"], diags, text))
        click.echo("")
        total += len(diags)
    by_sev: dict[str, int] = {}
    for _, diags in found:
        for d in diags:
            by_sev[d["severity"]] = by_sev.get(d["severity"], 0) + 1
    click.echo(f"{total} finding(s) in {sum(1 for _, d in found if d)} of {len(found)} stories"
               + (" (" + ", ".join(f"{v} {k}" for k, v in sorted(by_sev.items())) + ")" if by_sev else ""))
