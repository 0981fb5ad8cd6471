"""Build progress as data: a tally of the events the Builder emits through ``on_progress``.

The events (one dict each):

- ``{"event": "plan", "stories": n, "actions": m}``: the work known so far, as running totals (the
  Builder sends a new plan each time it has parsed another stale story; totals only grow).
- ``{"event": "action", "target": "pilot#3:prompts", "stage": "prompts", "executed": bool}``: one
  action checked, run (executed) or found in the cache.
- ``{"event": "story", "story": name, "status": "complete" | "blocked" | ...}``: a story finished.
- ``{"event": "done", "exit_code": n}``: the end.

The terminal display (``prodscale.cli.progress``) and the job store writer (``prodscale.exec.jobs``)
both render this one tally, so they always agree. Unknown events are ignored; a bare string (the
story name, as older builders sent it) counts as a finished story.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

CURRENT_MAX = 4  # how many of the latest targets the displays show


@dataclass
class ProgressState:
    stories_total: int = 0
    stories_done: int = 0
    actions_total: int = 0
    actions_done: int = 0
    stages: dict[str, dict[str, int]] = field(default_factory=dict)    # stage -> executed/cached counts
    statuses: dict[str, int] = field(default_factory=dict)             # story status -> count
    current: deque[str] = field(default_factory=lambda: deque(maxlen=CURRENT_MAX))
    exit_code: int | None = None

    def feed(self, event: Any) -> str | None:
        """Take one event; returns its kind ('plan', 'action', 'story', 'done') or None if ignored."""
        if isinstance(event, str):
            event = {"event": "story", "story": event, "status": ""}
        if not isinstance(event, dict):
            return None
        kind = event.get("event")
        if kind == "plan":
            self.stories_total = max(self.stories_total, int(event.get("stories", 0) or 0))
            self.actions_total = max(self.actions_total, int(event.get("actions", 0) or 0))
        elif kind == "action":
            self.actions_done += 1
            stage = str(event.get("stage") or "?")
            counts = self.stages.setdefault(stage, {"executed": 0, "cached": 0})
            counts["executed" if event.get("executed") else "cached"] += 1
            target = event.get("target")
            if target:
                if target in self.current:
                    self.current.remove(target)
                self.current.append(str(target))
        elif kind == "story":
            self.stories_done += 1
            status = str(event.get("status") or "")
            if status:
                self.statuses[status] = self.statuses.get(status, 0) + 1
            story = str(event.get("story") or "")
            for target in [t for t in self.current if _story_of(t) == story]:
                self.current.remove(target)
        elif kind == "done":
            self.exit_code = int(event.get("exit_code", 0) or 0)
            self.current.clear()
        else:
            return None
        # totals are at least what was done (a builder may announce less than it checks)
        self.stories_total = max(self.stories_total, self.stories_done)
        self.actions_total = max(self.actions_total, self.actions_done)
        return str(kind)

    @property
    def executed(self) -> int:
        return sum(c["executed"] for c in self.stages.values())

    @property
    def cached(self) -> int:
        return sum(c["cached"] for c in self.stages.values())


def _story_of(target: str) -> str:
    for sep in ("#", ":"):
        target = target.split(sep, 1)[0]
    return target
