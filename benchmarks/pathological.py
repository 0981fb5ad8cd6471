"""Inputs that used to make prodscale quadratic (issue 14), timed at doubling sizes: the ratio between two
sizes should stay near 2.

    python benchmarks/pathological.py            # unclosed notes in the parser, and a story of N scenes
                                                 # each carrying a finding, built with -j 1 on 1.1.0 and 2.0.0
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def notes(sizes: tuple[int, ...] = (20000, 40000, 80000)) -> None:
    from prodscale.core.fountain import parse
    prev = None
    for n in sizes:
        text = "INT. HALL - DAY\n\n" + "A [[ b " * n + "\n"
        t = time.perf_counter()
        parse(text)
        dt = time.perf_counter() - t
        print(f"unclosed notes, {len(text):>8} bytes on one line: {dt:7.3f} s"
              + (f"  (x{dt / prev:.1f})" if prev else ""))
        prev = dt


def scenes(engine: str, sizes: tuple[int, ...] = (4000, 8000, 16000)) -> None:
    prev = None
    for n in sizes:
        root = Path(tempfile.mkdtemp(prefix="prodscale-path-"))
        (root / "stories").mkdir()
        (root / "prodscale.toml").write_text(f'[project]\nname = "p"\nengine = "{engine}"\n', encoding="utf-8")
        # no time of day and a profane word: every scene carries findings
        (root / "stories" / "s.fountain").write_text(
            "".join(f"INT. ROOM {i}\n\nNELL waits. Damn it.\n\n" for i in range(n)), encoding="utf-8")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "prodscale", "build", "-q", "-j", "1", "-C", str(root)],
                       capture_output=True, check=False)
        dt = time.perf_counter() - t
        shutil.rmtree(root, ignore_errors=True)
        print(f"engine {engine}, one story of {n:>6} scenes with findings: {dt:7.2f} s"
              + (f"  (x{dt / prev:.1f})" if prev else ""))
        prev = dt


if __name__ == "__main__":
    notes()
    for engine in ("1.1.0", "2.0.0"):
        scenes(engine)
