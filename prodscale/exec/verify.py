"""``verify``: re-hash every output against its manifest and every manifest against the lock;
``verify --rebuild``: recompile from scratch elsewhere, without the cache, and compare bytes.

Findings are data (file, problem); the CLI renders them and exits 3 on any.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from prodscale.core.canon import digest_bytes
from prodscale.core.manifest import compilation_hash, render_text
from prodscale.core.vocab import FindingLevel
from prodscale.storage.lockfile import LOCK_NAME, LockFile


@dataclass(frozen=True)
class Finding:
    story: str
    file: str
    problem: str
    level: FindingLevel = "error"   # "error": outputs, manifest and lock disagree (exit 3); "note": worth knowing only

    def to_dict(self) -> dict[str, str]:
        return {"story": self.story, "file": self.file, "problem": self.problem, "level": self.level}


# what plain verify proves, and what it cannot (the CLI says both)
PROVES = ("each output's bytes match its manifest, each manifest's core matches its compilation hash and the "
          "lock, no file in build/<story>/ is unaccounted for")
CANNOT = ("that the outputs are what the sources compile to: a consistent forgery of outputs, manifest and lock "
          "passes; `prodscale verify --rebuild` recompiles from scratch without the cache and compares the bytes")


def verify_outputs(project: Any, stories: list[str] | None = None) -> tuple[list[str], list[Finding]]:
    """(stories checked, findings) for the project's built outputs."""
    lock = LockFile.load(project.root)
    files, _ = project.story_files()
    names = sorted(stories) if stories else sorted(set(lock.stories) | {sf.name for sf in files})
    recorded = _recorded_lock_entries(project)
    findings: list[Finding] = []
    for name in names:
        findings.extend(_verify_story(project, lock, name, recorded.get(name)))
    return names, findings


_NOT_BUILT_HERE = "not built on this machine yet"
# the lock fields that only the build state can vouch for (the manifest does not hold them)
_STATE_ONLY = ("floor", "inputs")


def _recorded_lock_entries(project: Any) -> dict[str, dict[str, str]]:
    """What the last build on this machine wrote to the lock, per story (from the build state; read only)."""
    from prodscale.storage.state import BuildState
    try:
        state = BuildState(project.state_dir).load()
    except Exception:  # an unreadable state vouches for nothing; build reports it
        return {}
    return {name: dict(rec.lock_entry) for name, rec in state.stories.items() if rec.lock_entry}


def _verify_story(project: Any, lock: LockFile, name: str, recorded: dict[str, str] | None) -> list[Finding]:
    out_dir = project.build_dir / name
    rel = f"build/{name}"
    entry = lock.stories.get(name)
    found: list[Finding] = []
    if entry is not None and not out_dir.exists():
        # a fresh clone: the lock is committed, build/ is not
        return [Finding(name, rel, _NOT_BUILT_HERE + " (a fresh clone?): plain verify has no outputs to "
                                   "check; `prodscale verify --rebuild` checks the lock against a clean rebuild",
                        level="note")]
    if entry is not None and recorded is not None:
        for key in _STATE_ONLY:
            if entry.get(key) != recorded.get(key):
                found.append(Finding(name, f"{LOCK_NAME} [stories.{name}]", f"{key} is {entry.get(key)!r}, but the last build here "
                                                      f"recorded {recorded.get(key)!r} (edited by hand?)"))
    if entry is None:
        # a story not built yet (or whose build was interrupted before the lock was saved) is no tampering
        if not (out_dir / "manifest.json").exists():
            return [Finding(name, rel, "not built yet: run `prodscale build`", level="note")]
        found.append(Finding(name, LOCK_NAME, "built, but not recorded in the lock yet (an interrupted build?): "
                                              "run `prodscale build` to record it; its files are checked below",
                             level="note"))
    try:
        doc = orjson.loads((out_dir / "manifest.json").read_bytes())
        core, run, stated = doc["core"], doc["run"], doc["compilation_hash"]
    except FileNotFoundError:
        return [Finding(name, f"{rel}/manifest.json", "missing")]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return [Finding(name, f"{rel}/manifest.json", "unreadable or not a manifest (tampered?)")]
    actual = compilation_hash(core)
    if actual != stated:
        found.append(Finding(name, f"{rel}/manifest.json",
                             f"its core hashes to {actual[:10]}... but it states {str(stated)[:10]}... (tampered)"))
    if entry is not None and entry.get("compilation_hash") != actual:
        found.append(Finding(name, f"{LOCK_NAME} / {rel}/manifest.json",
                             f"the lock holds compilation hash {str(entry.get('compilation_hash'))[:10]}..., the "
                             f"manifest's core hashes to {actual[:10]}... (one of them was changed)"))
    for key, lock_key in (("story_hash", "story_hash"), ("shot_specs_hash", "shot_specs_hash"),
                          ("prompt_hash", "prompts_hash"), ("engine", "engine"), ("floor", "floor")):
        if entry is not None and core.get(key) != entry.get(lock_key):
            found.append(Finding(name, LOCK_NAME, f"{lock_key} differs from build/{name}/manifest.json"))
    for fname, digest in sorted(core.get("outputs", {}).items()):
        path = out_dir / fname
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            found.append(Finding(name, f"{rel}/{fname}", "missing"))
            continue
        if digest_bytes(data) != digest:
            found.append(Finding(name, f"{rel}/{fname}", "content does not match the manifest (tampered)"))
    expected = {*core.get("outputs", {}), "manifest.json", "manifest.txt"}
    try:
        present = sorted(p.name for p in out_dir.iterdir())
    except OSError:
        present = []
    for fname in present:
        if fname.startswith(".") and fname.endswith(".tmp"):
            found.append(Finding(name, f"{rel}/{fname}", "a temporary file of an interrupted write (the next build "
                                                            "removes it)", level="note"))
        elif fname not in expected:
            found.append(Finding(name, f"{rel}/{fname}", "not an output of this compilation (added by hand, or "
                                                            "left from elsewhere)"))
    known = _recorded_run(project, actual)
    if known is not None and known != {k: str(v) for k, v in (run or {}).items()}:
        found.append(Finding(name, f"{rel}/manifest.json", f"its run record ({run}) is not the one this machine "
                             f"recorded for this compilation ({known}); the run record is outside the hashes",
                             level="note"))
    try:
        txt = (out_dir / "manifest.txt").read_text(encoding="utf-8")
        # a run record changed in manifest.json alone: manifest.txt still shows the recorded one (the note above)
        if txt != render_text(core, run) and not (known is not None and txt == render_text(core, known)):
            found.append(Finding(name, f"{rel}/manifest.txt", "does not render manifest.json (tampered)"))
    except FileNotFoundError:
        found.append(Finding(name, f"{rel}/manifest.txt", "missing"))
    except UnicodeDecodeError:
        found.append(Finding(name, f"{rel}/manifest.txt", "not UTF-8 (tampered)"))
    return found


def _recorded_run(project: Any, chash: str) -> dict[str, str] | None:
    """The run record the local cache keeps for a compilation hash, when there is a cache (read only)."""
    directory = project.state_dir / "cache"
    if not (directory / "cache.db").is_file():
        return None
    from prodscale.storage.cache import Cache
    try:
        cache = Cache(directory)
    except Exception:
        return None
    try:
        known = cache.get_meta(f"run:{chash}")
    finally:
        cache.close()
    return {k: str(v) for k, v in known.items()} if isinstance(known, dict) else None


def verify_rebuild(project: Any, stories: list[str] | None = None) -> tuple[list[str], list[Finding]]:
    """Compile the project's sources from scratch in a temporary folder, without the cache, with
    the same pins, and compare every output byte for byte (the run record of manifest.json aside)."""
    from prodscale.exec.builder import Builder
    from prodscale.exec.options import BuildOptions
    from prodscale.storage.project import Project

    names, findings = verify_outputs(project, stories)
    findings = [f for f in findings if not f.problem.startswith(_NOT_BUILT_HERE)]  # the rebuild checks those
    with tempfile.TemporaryDirectory(prefix="prodscale-verify-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        shutil.copy2(project.config_path, root / project.config_path.name)
        if (project.root / LOCK_NAME).exists():
            shutil.copy2(project.root / LOCK_NAME, root / LOCK_NAME)
        shutil.copytree(project.stories_dir(), root / project.settings.stories_dir, symlinks=False)
        fresh = Project(root)
        builder = Builder(fresh, BuildOptions(check_drift=False))  # compared below, file by file
        report = builder.build([], keep_going=True)
        for err in report.errors:
            findings.append(Finding("?", err.path or "?", f"rebuild failed: {err.message}"))
        rebuilt = LockFile.load(root)
        locked = LockFile.load(project.root)
        for name in names:
            findings.extend(_compare_lock(name, locked.stories.get(name), rebuilt.stories.get(name)))
            if (project.build_dir / name).is_dir():
                findings.extend(_compare(project, fresh, name))
    return names, findings


def _compare_lock(name: str, locked: dict[str, str] | None, rebuilt: dict[str, str] | None) -> list[Finding]:
    """The lock against what a clean rebuild records. From the same inputs and engine, other hashes mean the
    lock was edited (a shipped engine's output is frozen by golden digests; drift is the unlikely reading)."""
    if locked is None or rebuilt is None or locked == rebuilt:
        return []
    if locked.get("inputs") != rebuilt.get("inputs") or locked.get("engine") != rebuilt.get("engine"):
        return [Finding(name, f"{LOCK_NAME} [stories.{name}]", "the sources, settings or pin changed since the lock was written: "
                                         "`prodscale build` records the new compilation", level="note")]
    fields = [k for k in sorted(set(locked) | set(rebuilt)) if locked.get(k) != rebuilt.get(k)]
    return [Finding(name, f"{LOCK_NAME} [stories.{name}]", f"{', '.join(fields)} "
                    f"{'differs' if len(fields) == 1 else 'differ'} from what its unchanged inputs compile to: the lock was "
                                     "edited (restore it from version control); if nobody edited it, the engine "
                                     "drifted: report that")]


def _compare(project: Any, fresh: Any, name: str) -> list[Finding]:
    a_dir, b_dir = project.build_dir / name, fresh.build_dir / name
    if not b_dir.is_dir():
        return [Finding(name, f"build/{name}", "the rebuild produced no outputs")]
    for fname in sorted(p.name for p in b_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            mine = (a_dir / fname).read_bytes()
        except FileNotFoundError:
            return [Finding(name, f"build/{name}/{fname}", "drift: missing here, produced by the rebuild")]
        theirs = (b_dir / fname).read_bytes()
        if fname == "manifest.json":
            mine_core, theirs_core = _core(mine), _core(theirs)
            same = mine_core is not None and mine_core == theirs_core
        elif fname == "manifest.txt":
            same = _strip_run(mine) == _strip_run(theirs)
        else:
            same = mine == theirs
        if not same:
            return [Finding(name, f"build/{name}/{fname}", "drift: a clean rebuild without the cache produces "
                                                            "different bytes (first differing output)")]
    return []


def _core(data: bytes) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(data)
        return {"core": doc["core"], "compilation_hash": doc["compilation_hash"]}
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def _strip_run(data: bytes) -> bytes:
    return b"\n".join(line for line in data.split(b"\n")
                      if not line.startswith(b"Compiled At:") and not line.startswith(b"Run ID:"))
