"""``prodscale reanalyze STORY --engine X``: move a story to another engine on purpose."""

from __future__ import annotations

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


@click.command("reanalyze")
@click.argument("story")
@click.option("--engine", "engine", required=True, help="Engine version to move the story to.")
@click.option("--dry-run", "-n", is_flag=True, help="Show what would change; keep the pin.")
@json_option
@project_option
def command(story: str, engine: str, dry_run: bool, as_json: bool, project_dir: str | None) -> None:
    """Recompile STORY under another engine and show which shots and prompts change."""
    from prodscale.exec.reanalyze import reanalyze, render

    result = reanalyze(open_project(project_dir), story, engine, dry_run=dry_run)
    if as_json:
        echo_json(result)
    else:
        click.echo("\n".join(render(result)))
