"""``prodscale status``: what is stale and why, one line each."""

from __future__ import annotations

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


@click.command("status")
@json_option
@project_option
def command(as_json: bool, project_dir: str | None) -> None:
    """Show each story as up to date or stale, with the reason."""
    from prodscale.exec.builder import Builder
    from prodscale.exec.status import story_lines

    rows = story_lines(Builder(open_project(project_dir)))
    if as_json:
        echo_json({"stories": rows})
        return
    for row in rows:
        if row["state"] == "up-to-date":
            click.echo(f"{row['story']}: up to date ({row.get('status')})")
        else:
            click.echo(f"{row['story']}: {row['state']}: {'; '.join(row['reasons'])}")
