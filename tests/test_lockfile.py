"""prodscale.lock rendering: partial re-rendering is byte-identical to rendering the whole document."""

from __future__ import annotations

import random
from pathlib import Path

import tomli_w

from prodscale.storage.lockfile import FORMAT, HEADER, LockFile


def test_incremental_render_equals_full_render(tmp_path: Path) -> None:
    rng = random.Random(1)

    def entry() -> dict[str, str]:
        return {"engine": rng.choice(["1.0.0", "1.1.0"]), "floor": "1.0.0",
                "compilation_hash": f"{rng.getrandbits(256):064x}"}

    lock = LockFile(tmp_path / "prodscale.lock", {(f"s{i}" if i % 7 else f"a.b{i}"): entry() for i in range(50)})
    lock.save()
    for trial in range(20):
        snapshot = lock.snapshot()
        lock = LockFile.load(tmp_path, snapshot if trial % 2 else None)
        for _ in range(3):
            lock.stories[rng.choice(sorted(lock.stories))] = entry()
        lock.stories[f"new{trial}"] = entry()
        del lock.stories[rng.choice(sorted(lock.stories))]
        full = HEADER + tomli_w.dumps({"format": FORMAT, "stories": {n: lock.stories[n] for n in sorted(lock.stories)}})
        assert lock.render() == full
        lock.save()
        assert (tmp_path / "prodscale.lock").read_text(encoding="utf-8") == full


def test_snapshot_is_ignored_when_the_file_changed(tmp_path: Path) -> None:
    lock = LockFile(tmp_path / "prodscale.lock", {"a": {"engine": "1.0.0"}})
    lock.save()
    snapshot = lock.snapshot()
    path = tmp_path / "prodscale.lock"
    path.write_text(path.read_text(encoding="utf-8").replace("1.0.0", "1.1.0"), encoding="utf-8")
    assert LockFile.load(tmp_path, snapshot).pin("a") == "1.1.0"
