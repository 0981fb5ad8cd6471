"""The target DAG (networkx): per scene one node per stage, per story the aggregation and groups.

Nodes carry ``kind``: "action" (a rule that runs: ``STORY#i:stage`` and ``STORY:aggregate``) or
"group" (``STORY:stage`` gathers one stage over all scenes; ``STORY`` is the whole story). Edges
point from a prerequisite to what needs it. The graph is built only for the stories a command
touches, so a no-op build never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import networkx as nx

from prodscale.core.stages import StageSpec
from prodscale.core.targets import Target, scene_target, story_target
from prodscale.errors import GraphError

AGGREGATE = "aggregate"


def add_story(graph: nx.DiGraph, story: str, n_scenes: int, stages: Sequence[StageSpec]) -> None:
    names = {s.name for s in stages}
    graph.add_node(story, kind="group", story=story)
    graph.add_node(story_target(story, AGGREGATE), kind="action", story=story, stage=AGGREGATE, scene=None)
    graph.add_edge(story_target(story, AGGREGATE), story)
    for spec in stages:
        group = story_target(story, spec.name)
        graph.add_node(group, kind="group", story=story, stage=spec.name)
        for dep in spec.inputs:
            if dep != "scene" and dep not in names:
                raise GraphError(f"stage '{spec.name}' needs unknown stage '{dep}'")
    for i in range(1, n_scenes + 1):
        for spec in stages:
            node = scene_target(story, i, spec.name)
            graph.add_node(node, kind="action", story=story, stage=spec.name, scene=i)
            graph.add_edge(node, story_target(story, spec.name))
            graph.add_edge(node, story_target(story, AGGREGATE))
            for dep in spec.inputs:
                if dep != "scene":
                    graph.add_edge(scene_target(story, i, dep), node)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise GraphError("the rule graph has a cycle: " + " -> ".join(str(a) for a, _ in cycle))


def build_graph(stories: Iterable[tuple[str, int]], stages: Sequence[StageSpec]) -> nx.DiGraph:
    graph: nx.DiGraph = nx.DiGraph()
    for story, n in stories:
        add_story(graph, story, n, stages)
    return graph


def resolve(graph: nx.DiGraph, target: Target) -> str:
    """The node of ``target`` or a GraphError that says what exists."""
    name = str(target)
    if name in graph:
        return name
    if target.story not in graph:
        raise GraphError(f"unknown target '{name}': no story named '{target.story}'",
                         hint="`prodscale graph --format json` lists every target")
    if target.scene is not None and target.stage is None:
        raise GraphError(f"'{name}' names a scene but no stage", hint=f"e.g. {name}:shot_specs")
    raise GraphError(f"unknown target '{name}'", hint="`prodscale graph` lists the targets of a story")


def actions_for(graph: nx.DiGraph, nodes: Iterable[str]) -> set[str]:
    """Every action node needed to bring ``nodes`` up to date (the nodes and their ancestors)."""
    needed: set[str] = set()
    for node in nodes:
        for n in (node, *nx.ancestors(graph, node)):
            if graph.nodes[n]["kind"] == "action":
                needed.add(n)
    return needed


def to_dot(graph: nx.DiGraph) -> str:
    lines = ["digraph prodscale {", "  rankdir=LR;"]
    for node in sorted(graph.nodes):
        shape = "box" if graph.nodes[node]["kind"] == "action" else "ellipse"
        lines.append(f'  "{node}" [shape={shape}];')
    for a, b in sorted(graph.edges):
        lines.append(f'  "{a}" -> "{b}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: nx.DiGraph) -> str:
    ids = {node: f"n{i}" for i, node in enumerate(sorted(graph.nodes))}
    lines = ["flowchart LR"]
    for node in sorted(graph.nodes):
        shape = ("[", "]") if graph.nodes[node]["kind"] == "action" else ("([", "])")
        lines.append(f'  {ids[node]}{shape[0]}"{node}"{shape[1]}')
    for a, b in sorted(graph.edges):
        lines.append(f"  {ids[a]} --> {ids[b]}")
    return "\n".join(lines) + "\n"


def to_json(graph: nx.DiGraph) -> dict[str, object]:
    return {
        "nodes": [{"id": n, **dict(sorted(graph.nodes[n].items()))} for n in sorted(graph.nodes)],
        "edges": [[a, b] for a, b in sorted(graph.edges)],
    }
