"""Engine versions: each is a frozen rule set (``rules/<version>/``) plus its code.

An engine is its rule data and its interpretation code: the reader that turns the shared, frozen
Fountain tokenizer's model into the scene units its stages compile (how a heading, a slug, a cue
or an entity is read), the per-scene stages it runs, in order, and the story-level aggregation.
Engines 1.0.0 and 1.1.0 share one reader and one set of stage modules (they differ by rule data);
engine 2.0.0 reads and compiles with its own modules (``prodscale.core.v2_0``). A new engine adds
modules and never edits a shipped engine's; golden digests over a broad corpus
(tests/test_engine_freeze.py) hold every shipped engine's bytes.

A **preview** engine (``preview=True``) is selectable but never a default and never what "newest"
means, until its issue ships it; its code digest is part of its action keys and lock inputs while it
is one. 2.0.0 shipped with issue 13 and is frozen like 1.x; 2.1.0 is a preview (2.0.0's code, its own
rule data: see CHANGES.md).

The modules are imported on first use, so a no-op build that never runs a rule never imports them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from prodscale.core.stages import StageSpec
from prodscale.errors import UsageError

PARSER_VERSION = 1  # bump when the parser's output for some input changes


@dataclass(frozen=True)
class Reading:
    """What an engine's reader makes of a parsed story: the scene units its stages compile and the
    extra fields of the story's aggregation input (none for engines 1.x)."""

    units: list[Any]
    meta: dict[str, Any]


@dataclass(frozen=True)
class Engine:
    version: str
    stage_modules: tuple[str, ...]
    aggregate_module: str
    reader_module: str = "prodscale.core.engines"   # a module with read(story, rules, prefixes) -> Reading
    preview: bool = False

    def read(self, story: Any, rules: Any, prefixes: tuple[str, ...] = (),
             options: dict[str, Any] | None = None) -> Reading:
        """The story's scene units as this engine reads them (``rules``: file name -> parsed TOML;
        ``options``: the story's name and the settings a reader may read, e.g. 2.0.0's waivers)."""
        module = importlib.import_module(self.reader_module)
        if options and self.reader_module != __name__:
            reading: Reading = module.read(story, rules, tuple(prefixes), options)
        else:
            reading = module.read(story, rules, tuple(prefixes))
        return reading

    @cached_property
    def stages(self) -> tuple[StageSpec, ...]:
        return tuple(importlib.import_module(m).SPEC for m in self.stage_modules)

    @cached_property
    def aggregate(self) -> StageSpec:
        spec: StageSpec = importlib.import_module(self.aggregate_module).SPEC
        return spec


def read(story: Any, rules: dict[str, Any], prefixes: tuple[str, ...] = ()) -> Reading:
    """Engines 1.x's reader: the parser's scenes as they are, the prologue a pseudo-scene."""
    from prodscale.core.scenes import scene_units
    return Reading(scene_units(story), {})


_STAGES_1_0 = tuple(f"prodscale.core.stages.{n}" for n in ("sanitize", "shot_specs", "prompts", "src"))
_STAGES_2_0 = tuple(f"prodscale.core.v2_0.stages.{n}" for n in ("sanitize", "shot_specs", "prompts", "src", "layout"))

# Engines 1.x differ by their rule data (rules/<version>/) and share their code; 2.0.0 has its own.
ENGINES: dict[str, Engine] = {
    "1.0.0": Engine("1.0.0", _STAGES_1_0, "prodscale.core.stages.aggregate"),
    "1.1.0": Engine("1.1.0", _STAGES_1_0, "prodscale.core.stages.aggregate"),
    "2.0.0": Engine("2.0.0", _STAGES_2_0, "prodscale.core.v2_0.stages.aggregate",
                    reader_module="prodscale.core.v2_0.reading"),   # shipped 2026-12-01 (issue 13): frozen
    # a preview: 2.0.0's code with its own rule data (rules/2.1.0/), as 1.1.0 is 1.0.0's code with its own
    "2.1.0": Engine("2.1.0", _STAGES_2_0, "prodscale.core.v2_0.stages.aggregate",
                    reader_module="prodscale.core.v2_0.reading", preview=True),
}


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def newest() -> str:
    """The newest shipped engine (previews are not shipped)."""
    return max((v for v, e in ENGINES.items() if not e.preview), key=_key)


def get_engine(version: str) -> Engine:
    try:
        return ENGINES[version]
    except KeyError:
        raise UsageError(f"unknown engine version '{version}'",
                         hint=f"shipped engines: {', '.join(sorted(ENGINES))}") from None
