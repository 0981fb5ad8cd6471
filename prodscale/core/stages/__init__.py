"""The four stages and the per-story aggregation, as pure functions over JSON-able data.

A stage is declared once as a ``StageSpec``: its name, implementation version, the rule files
(under ``rules/<engine>/``) and the settings it reads, the same-scene stage outputs it consumes,
and ``run``. The engine derives every action key from exactly these declarations, so a stage
that reads something it did not declare is a determinism bug.

Calling convention (per scene)::

    run(inputs, rules, settings) -> dict

- ``inputs["scene"]``: the scene as ``Scene.to_dict()`` with every span made *scene-relative*
  (line 1 is the heading line; columns unchanged). Scene-relative spans are what let a scene's
  actions stay cached when scenes above it are inserted or deleted.
- ``inputs[<stage name>]``: the output of an earlier stage of the same scene, for each name in
  ``spec.inputs``.
- ``rules``: ``{file name: parsed TOML}`` for each file in ``spec.rule_files``.
- ``settings``: ``{dotted key: value}`` for each key in ``spec.settings`` (missing -> None).
- The result is JSON-able (no floats: use integers such as milliseconds) with scene-relative
  spans; diagnostics are ``Diagnostic.to_dict()`` dicts.

The aggregation (``aggregate.SPEC``) runs per story over all scenes' outputs and makes the output
files; it is where scene numbers, file line numbers and cross-scene checks come in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

StageFn = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class StageSpec:
    name: str
    version: int
    rule_files: tuple[str, ...]
    settings: tuple[str, ...]
    inputs: tuple[str, ...]
    run: StageFn
