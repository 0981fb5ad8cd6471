"""The terminal progress display of ``prodscale build``: counts per stage and the current targets.

Shown only on a terminal (stderr a TTY) and never with ``--json``; it writes to stderr only, never
to stdout, so piped or parsed output is untouched. It renders the Builder's progress events (see
``prodscale.exec.progress``) with ``rich``, imported only when the display is on, and redraws at
most ``fps`` times a second so a fast build does not spend its time drawing.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO
from collections.abc import Callable

from prodscale.exec.progress import ProgressState

BAR = 24  # progress bar width in columns


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None, *, fps: float = 10.0, force_terminal: bool | None = None,
                 width: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        from rich.console import Console
        from rich.live import Live

        self.state = ProgressState()
        self.console = Console(file=stream if stream is not None else sys.stderr, force_terminal=force_terminal,
                               width=width, highlight=False)
        self.live = Live(console=self.console, auto_refresh=False, transient=True,
                         redirect_stdout=False, redirect_stderr=False)
        self.interval = 1.0 / fps
        self.clock = clock
        self._last = float("-inf")
        self._started = False
        self.closed = False

    def __call__(self, event: Any) -> None:
        if self.closed or self.state.feed(event) is None:
            return
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        self._draw()

    def _draw(self) -> None:
        if not self._started:
            self.live.start()
            self._started = True
        self.live.update(self.renderable(), refresh=True)

    def renderable(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        s = self.state
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, min_width=12)                 # what
        grid.add_column(no_wrap=True, min_width=BAR)                 # bar
        grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)  # counts, targets
        total = max(s.actions_total, 1)
        grid.add_row("actions", ProgressBar(total=total, completed=s.actions_done, width=BAR),
                     f"{s.actions_done}/{s.actions_total}  ({s.executed} run, {s.cached} cached)")
        grid.add_row("stories", ProgressBar(total=max(s.stories_total, 1), completed=s.stories_done, width=BAR),
                     f"{s.stories_done}/{s.stories_total}"
                     + (f"  ({', '.join(f'{n} {k}' for k, n in sorted(s.statuses.items()))})" if s.statuses else ""))
        for stage in s.stages:  # pipeline order: as first met
            c = s.stages[stage]
            grid.add_row(f"  {stage}", "", f"{c['executed']} run, {c['cached']} cached")
        if s.current:
            grid.add_row("now", "", ", ".join(s.current))
        return grid

    def close(self) -> None:
        """Remove the display (it is transient), leaving the terminal as it was."""
        if self.closed:
            return
        self.closed = True
        if self._started:
            self.live.stop()


def make_progress(enabled: bool) -> TerminalProgress | None:
    """A progress display on stderr when ``enabled`` (stderr is a TTY and not --json), else None."""
    if not enabled:
        return None
    return TerminalProgress()


def close(progress: Any) -> None:
    """Close a display made by make_progress (None is fine)."""
    if progress is not None and hasattr(progress, "close"):
        progress.close()
