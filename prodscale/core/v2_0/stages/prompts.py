"""prompts (engine 2.0.0): engine 1.x's prompt rendering, unchanged, over 2.0.0's shots.

2.0.0's shots already carry what 1.x's renderer reads: ``time_of_day`` is the resolved light
(never CONTINUOUS), ``subjects`` every character the shot shows (not only speakers), so the
character bible reaches every clip that shows a character. Generator-specific splitting and
packing are engine 2.0.0 part 2.
"""

from __future__ import annotations

from prodscale.core.stages import StageSpec
from prodscale.core.stages.prompts import run

VERSION = 1

SPEC = StageSpec(name="prompts", version=VERSION, rule_files=("prompts.toml", "sanitize.toml"),
                 settings=("project.profile", "style", "characters"), inputs=("sanitize", "shot_specs"), run=run)
