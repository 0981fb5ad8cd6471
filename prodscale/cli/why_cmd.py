"""``prodscale why TARGET``: why a target was rebuilt, or would be, down to the root cause."""

from __future__ import annotations

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


@click.command("why")
@click.argument("target")
@json_option
@project_option
def command(target: str, as_json: bool, project_dir: str | None) -> None:
    """Explain TARGET's last rebuild or today's staleness (cache hit, or the changed component and its diff)."""
    from prodscale.exec.builder import Builder
    from prodscale.exec.why import explain_target, render

    builder = Builder(open_project(project_dir))
    expl = explain_target(builder, target)
    if as_json:
        echo_json(expl)
    else:
        click.echo("\n".join(render(expl)))
