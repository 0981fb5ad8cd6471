"""Engine versions: each is a frozen rule set (``rules/<version>/``) plus stage implementations.

An engine lists, in order, the per-scene stages it runs and the story-level aggregation. The
stage modules are imported on first use, so a no-op build that never runs a rule never imports
them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property

from prodscale.core.stages import StageSpec
from prodscale.errors import UsageError

PARSER_VERSION = 1  # bump when the parser's output for some input changes


@dataclass(frozen=True)
class Engine:
    version: str
    stage_modules: tuple[str, ...]
    aggregate_module: str

    @cached_property
    def stages(self) -> tuple[StageSpec, ...]:
        return tuple(importlib.import_module(m).SPEC for m in self.stage_modules)

    @cached_property
    def aggregate(self) -> StageSpec:
        spec: StageSpec = importlib.import_module(self.aggregate_module).SPEC
        return spec

    def stage(self, name: str) -> StageSpec:
        for spec in self.stages:
            if spec.name == name:
                return spec
        if name == self.aggregate.name:
            return self.aggregate
        raise UsageError(f"engine {self.version} has no stage '{name}'",
                         hint=f"stages: {', '.join(self.stage_names)}")

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(m.rsplit(".", 1)[1] for m in self.stage_modules)

    def rule_files(self) -> tuple[str, ...]:
        """Every rule file any stage of this engine reads, sorted."""
        names: set[str] = set()
        for spec in (*self.stages, self.aggregate):
            names.update(spec.rule_files)
        return tuple(sorted(names))


_STAGES_1_0 = tuple(f"prodscale.core.stages.{n}" for n in ("sanitize", "shot_specs", "prompts", "src"))

# Engines differ by their rule data (rules/<version>/); the stage code reads behaviour from it, so
# an engine's outputs stay frozen as long as its rule data does (the golden hash tests hold this).
ENGINES: dict[str, Engine] = {
    "1.0.0": Engine("1.0.0", _STAGES_1_0, "prodscale.core.stages.aggregate"),
    "1.1.0": Engine("1.1.0", _STAGES_1_0, "prodscale.core.stages.aggregate"),
}


def newest() -> str:
    return max(ENGINES, key=lambda v: tuple(int(p) for p in v.split(".")))


def get_engine(version: str) -> Engine:
    try:
        return ENGINES[version]
    except KeyError:
        raise UsageError(f"unknown engine version '{version}'",
                         hint=f"shipped engines: {', '.join(sorted(ENGINES))}") from None
