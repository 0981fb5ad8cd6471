"""Pieces every command shares: the -C/--project option, JSON output and diagnostic rendering."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from prodscale.core.diagnostics import Diagnostic, render_text

project_option = click.option(
    "-C", "--project", "project_dir", default=None, metavar="DIR",
    help="Run as if started in DIR (the project folder or any folder inside it).")

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")


def open_project(project_dir: str | None) -> Any:
    """The project named by the command's -C, else the group's -C, else the current folder."""
    from prodscale.storage.project import Project
    if project_dir is None:
        ctx = click.get_current_context(silent=True)
        root = ctx.find_root() if ctx is not None else None
        if root is not None and isinstance(root.obj, dict):
            project_dir = root.obj.get("project_dir")
    return Project.open(project_dir)


def echo_json(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n")


def render_diagnostics(path: str, diagnostics: list[dict[str, Any]], text: str | None) -> str:
    lines = text.split("\n") if text is not None else None
    return "\n\n".join(render_text(Diagnostic.from_dict(d), path, lines) for d in diagnostics)


def is_tty() -> bool:
    return sys.stderr.isatty()
