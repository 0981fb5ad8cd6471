"""``prodscale explain PS###``: what a diagnostic checks, why it matters, examples, how to fix."""

from __future__ import annotations

from typing import Any, cast

import click

from prodscale.cli.common import echo_json, json_option


@click.command("explain")
@click.argument("code")
@click.option("--engine", default=None, help="Engine version whose rules to explain (default: the project's, "
                                             "else the newest shipped).")
@json_option
@click.option("-C", "--project", "project_dir", default=None, metavar="DIR", help="Project whose engine to use.")
def command(code: str, engine: str | None, as_json: bool, project_dir: str | None) -> None:
    """Print the documentation of diagnostic CODE (e.g. PS403)."""
    from prodscale.core.engines import newest
    from prodscale.core.explain import explain
    from prodscale.errors import ConfigError
    from prodscale.storage.project import Project, load_rules

    if engine is None:
        try:
            engine = Project.open(project_dir).settings.engine
        except ConfigError:
            engine = newest()
    rules = load_rules(engine)
    text = explain(code.strip().upper(), cast(dict[str, dict[str, Any]], rules.data))
    if as_json:
        echo_json({"code": code.strip().upper(), "engine": engine, "text": text})
    else:
        click.echo(text)
