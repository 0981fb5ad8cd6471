"""``prodscale graph``: the target DAG as dot, json or mermaid."""

from __future__ import annotations

import sys

import click

from prodscale.cli.common import echo_json, open_project, project_option


@click.command("graph")
@click.argument("target", required=False)
@click.option("--format", "fmt", type=click.Choice(["dot", "json", "mermaid"]), default="dot", show_default=True)
@project_option
def command(target: str | None, fmt: str, project_dir: str | None) -> None:
    """Print the graph of every story, or of TARGET and what it needs."""
    import networkx as nx

    from prodscale.core import graph as g
    from prodscale.core.engines import get_engine
    from prodscale.core.fountain import parse
    from prodscale.core.targets import parse_target
    from prodscale.exec.builder import Builder

    project = open_project(project_dir)
    builder = Builder(project)
    files, _ = project.story_files()
    wanted = parse_target(target) if target else None
    graph = nx.DiGraph()
    for sf in files:
        if wanted is not None and sf.name != wanted.story:
            continue
        prefixes = tuple(project.settings.heading_prefixes)
        story = parse(builder.read_text(sf), path=sf.rel_path, heading_prefixes=prefixes)
        engine = get_engine(builder.engine_for(sf.name))
        units = engine.read(story, project.rules(engine.version).data, prefixes).units
        g.add_story(graph, sf.name, len(units), engine.stages)
    if wanted is not None:
        if wanted.story not in graph:
            from prodscale.errors import GraphError
            raise GraphError(f"unknown target '{target}': no story named '{wanted.story}'")
        node = g.resolve(graph, wanted)
        graph = graph.subgraph({node, *nx.ancestors(graph, node)}).copy()
    if fmt == "json":
        echo_json(g.to_json(graph))
    elif fmt == "mermaid":
        sys.stdout.write(g.to_mermaid(graph))
    else:
        sys.stdout.write(g.to_dot(graph))
