"""Parse throughput of the Fountain parser, in MB/s on one core.

    python benchmarks/parse.py                 # a ~6 MB generated screenplay, and the shared corpus
    python benchmarks/parse.py --mb 20 --runs 5
    python benchmarks/parse.py --check         # exit 1 below the 5 MB/s target

The generated screenplay is built deterministically by code (a seeded generator, no files): every
Fountain element appears, in the proportions of a real script (mostly action and dialogue), with
notes, boneyard, emphasis, dual dialogue and scene numbers sprinkled in. Each figure is the best
of ``--runs`` timings of ``parse(bytes)``, decoding and normalization included. The corpus
(``../shared/corpus``) is skipped when absent.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prodscale.core.fountain import parse  # noqa: E402  (after the sys.path entry above)

CORPUS = REPO.parent / "shared" / "corpus"
TARGET_MB_S = 5.0

NAMES = ("NELL", "OSKAR", "DR. AMARA OKAFOR", "MRS. LINDQVIST", "THE CAPTAIN", "JOSÉ", "ZOË")
PLACES = ("WORKSHOP", "HARBOUR", "KITCHEN", "LIBRARY", "ROOFTOP", "GARDEN", "STATION", "MARKET")
TIMES = ("DAY", "NIGHT", "DUSK", "DAWN", "CONTINUOUS", "LATER", "MOMENTS LATER")
WORDS = ("the", "lantern", "flickers", "as", "she", "crosses", "room", "slowly", "*quietly*", "a", "door",
         "**slams**", "somewhere", "rain", "on", "glass", "_again_", "he", "waits", "by", "window", "maps",
         "coast", "blue", "old", "brass", "café", "naïve", "—", "and", "then", "nothing")


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words).capitalize() + rng.choice((".", ".", "!", "?", "..."))


def _scene(rng: random.Random, number: int) -> str:
    ie = rng.choice(("INT.", "EXT.", "INT./EXT.", "I/E", "EST."))
    heading = f"{ie} {rng.choice(PLACES)} {number} - {rng.choice(TIMES)}"
    if number % 5 == 0:
        heading += f" #{number}#"
    out = [heading, ""]
    if number % 7 == 0:
        out += [f"= Synopsis of scene {number}.", ""]
    for _ in range(rng.randint(4, 10)):
        r = rng.random()
        if r < 0.35:
            lines = [_sentence(rng, 6, 16) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.1:
                lines[0] += " [[check this beat]]"
            out += lines + [""]
        elif r < 0.85:
            name = rng.choice(NAMES)
            ext = rng.choice(("", "", "", " (V.O.)", " (O.S.)", " (CONT'D)"))
            out.append(name + ext + (" ^" if rng.random() < 0.05 else ""))
            if rng.random() < 0.3:
                out.append("(" + rng.choice(("beat", "quietly", "to Nell", "looking up")) + ")")
            out += [_sentence(rng, 3, 14) for _ in range(rng.randint(1, 3))]
            out.append("")
        elif r < 0.9:
            out += [rng.choice(("CUT TO:", "DISSOLVE TO:", "> MATCH CUT", "SMASH CUT TO:")), ""]
        elif r < 0.93:
            out += ["/*", _sentence(rng, 5, 10), "", _sentence(rng, 5, 10), "*/", ""]
        elif r < 0.96:
            out += ["~" + _sentence(rng, 3, 8), "~" + _sentence(rng, 3, 8), ""]
        elif r < 0.98:
            out += ["    " + _sentence(rng, 3, 8), "\t" + _sentence(rng, 3, 8), ""]
        else:
            out += ["> " + _sentence(rng, 2, 5) + " <", "", "===", ""]
    return "\n".join(out)


def generate(megabytes: float, seed: int = 0) -> bytes:
    """A deterministic screenplay of about ``megabytes`` MB (UTF-8)."""
    rng = random.Random(seed)
    parts = ["Title:\n    _**THE BENCHMARK**_\nAuthor: prodscale\nDraft date: 2024-01-01\n", "FADE IN:", ""]
    size = 0
    number = 1
    goal = int(megabytes * 1_000_000)
    while size < goal:
        scene = _scene(rng, number)
        parts.append(scene)
        parts.append("")
        size += len(scene.encode()) + 1
        number += 1
    parts.append("FADE OUT.")
    return ("\n".join(parts) + "\n").encode()


def best_time(data: bytes, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        parse(data)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=6.0, help="size of the generated screenplay (MB)")
    ap.add_argument("--runs", type=int, default=3, help="timings per input; the best is reported")
    ap.add_argument("--check", action="store_true", help=f"exit 1 when a figure is below {TARGET_MB_S} MB/s")
    args = ap.parse_args(argv)

    figures: list[float] = []
    data = generate(args.mb)
    story = parse(data)
    t = best_time(data, args.runs)
    mb_s = len(data) / t / 1e6
    figures.append(mb_s)
    print(f"generated: {len(data) / 1e6:.2f} MB, {len(story.scenes)} scenes, {len(data.splitlines())} lines: "
          f"{t:.3f} s -> {mb_s:.1f} MB/s")

    scripts = sorted(CORPUS.glob("*/*.fountain")) if CORPUS.is_dir() else []
    if scripts:
        blobs = [p.read_bytes() for p in scripts]
        total = sum(len(b) for b in blobs)
        reps = max(1, int(2_000_000 / max(total, 1)))  # about 2 MB of parsing per timing
        best = float("inf")
        for _ in range(args.runs):
            t0 = time.perf_counter()
            for _ in range(reps):
                for b in blobs:
                    parse(b)
            best = min(best, time.perf_counter() - t0)
        mb_s = total * reps / best / 1e6
        figures.append(mb_s)
        print(f"corpus: {len(scripts)} scripts, {total / 1e3:.1f} KB x {reps}: {best:.3f} s -> {mb_s:.1f} MB/s")
    else:
        print(f"corpus: skipped ({CORPUS} not present)")

    if args.check and min(figures) < TARGET_MB_S:
        print(f"below the target of {TARGET_MB_S} MB/s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
