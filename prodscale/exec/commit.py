"""Committing a compiled story: manifest, drift check, output files and build log.

This runs where the story's aggregation ran (a worker process, or the build process at ``-j 1``),
inside that task's cache transaction, so the build process only records what comes back (the
lock entry and the output stats) and never holds a story's files. Nothing here decides whether
the story is final: the build process writes the state and the lock after this, so a build that
dies in between only leaves files that the next build recognizes by their digests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

import orjson

from prodscale.core.canon import digest_bytes, pretty_json
from prodscale.core.manifest import build_core, compilation_hash, manifest_document, render_text
from prodscale.storage.cache import CacheDamaged
from prodscale.storage.fs import FileStat, atomic_write, make_dirs, stat_or_none
from prodscale.storage.project import BUILD_DIR, STATE_DIR
from prodscale.storage.state import BuildLog


@dataclass(frozen=True)
class CommitSpec:
    """What the build process knows of a story that its commit needs (small and picklable)."""

    name: str
    text: str                        # the normalized story text: stored so `why` can diff it later
    text_digest: str
    engine: str
    floor: str
    inputs: str                      # digest of the story's inputs (text, engine, rules, settings)
    run_id: str
    compiled_at: str                 # SOURCE_DATE_EPOCH when set, else the build's start
    old_lock: dict[str, Any] | None  # the story's prodscale.lock entry before this build
    old_outputs: dict[str, tuple[str, list[int]]] = field(default_factory=dict)  # file -> (digest, stat)
    base_targets: dict[str, Any] = field(default_factory=dict)  # log entries kept or computed elsewhere
    check_drift: bool = True
    write: bool = True               # False: compute and return the files, write nothing (reanalyze)
    pinned_time: bool = False        # SOURCE_DATE_EPOCH is set: it decides the run record, whatever is cached


@dataclass
class Committed:
    record: dict[str, Any]                       # the aggregation record the files came from
    lock_entry: dict[str, Any]
    outputs: dict[str, str]                      # file -> digest
    stats: dict[str, list[int]] = field(default_factory=dict)
    drift: tuple[str, str] | None = None         # (new, locked) compilation hashes: nothing was written
    staged: dict[str, Any] | None = None         # write=False: {"files": {name: bytes}, "core", "entry"}
    log_saved: bool = False
    core: dict[str, Any] | None = None           # the manifest's core


def prepare_commit(cache: Any, root: str, spec: CommitSpec, record: dict[str, Any],
                   fresh: dict[str, bytes]) -> Committed:
    """The story's manifest from its aggregation record, checked for drift, with every cache
    write of the commit (run record, manifest blobs, story text). Called inside the task's cache
    transaction, which is flushed before :func:`write_commit` touches a file: an output on disk
    always has its actions in the cache, so a killed build never redoes what it wrote."""
    core = build_core(story=spec.name, engine=spec.engine, floor=spec.floor, story_hash=spec.text_digest,
                      files=record["files"], summary=record["summary"])
    chash = compilation_hash(core)
    entry = {"engine": spec.engine, "floor": spec.floor, "inputs": spec.inputs, "story_hash": spec.text_digest,
             "shot_specs_hash": core["shot_specs_hash"], "prompts_hash": core["prompt_hash"],
             "compilation_hash": chash}
    old = spec.old_lock
    if spec.check_drift and old is not None and old.get("inputs") == spec.inputs \
            and old.get("engine") == spec.engine and old.get("compilation_hash") != chash:
        return Committed(record, entry, {}, drift=(chash, str(old.get("compilation_hash"))))
    run = _run_record(cache, _out_dir(root, spec), chash, spec)
    files = dict(record["files"])
    extra = {"manifest.json": pretty_json(manifest_document(core, run)),
             "manifest.txt": render_text(core, run).encode("utf-8")}
    for name, data in extra.items():
        files[name] = cache.put_blob(data)
        fresh[files[name]] = data
    cache.put_blob(spec.text.encode("utf-8"))
    return Committed(record, entry, files, core=core)


def write_commit(cache: Any, root: str, spec: CommitSpec, committed: Committed, fresh: dict[str, bytes],
                 recompute: Callable[[], tuple[dict[str, Any], dict[str, bytes]]], entries: dict[str, Any]) -> None:
    """Write the story's files (those that differ from what is on disk) and its build log; with
    ``spec.write`` false, only gather the files' bytes (reanalyze --dry-run). ``fresh`` holds the
    bytes computed in this task by digest; others come from the content store, or, when gone from
    it, from running the aggregation again (``recompute``)."""
    if committed.drift is not None:
        return
    source = _Bytes(cache, fresh, recompute, committed.record)
    if not spec.write:
        data = {name: source.get(digest) for name, digest in sorted(committed.outputs.items())}
        committed.staged = {"files": data, "core": committed.core, "entry": committed.lock_entry}
        return
    committed.stats = _write_outputs(_out_dir(root, spec), committed.outputs, source, spec)
    targets = {**spec.base_targets, **entries}
    BuildLog(Path(root) / STATE_DIR).save(spec.name, {"targets": targets, "run": spec.run_id})
    committed.log_saved = True


def _out_dir(root: str, spec: CommitSpec) -> Path:
    return Path(root) / BUILD_DIR / spec.name


def _run_record(cache: Any, out_dir: Path, chash: str, spec: CommitSpec) -> dict[str, str]:
    """When this exact compilation was first produced: reused while the compilation hash holds,
    so rebuilding unchanged work (even from an empty cache) leaves manifest.json byte-identical; under
    SOURCE_DATE_EPOCH, that epoch's record, always."""
    known: dict[str, str] | None
    if spec.pinned_time:
        # SOURCE_DATE_EPOCH decides compiled_at and the run id: a record an earlier build cached loses to it
        known = {"compiled_at": spec.compiled_at, "run_id": spec.run_id}
        if spec.write:
            cache.put_meta(f"run:{chash}", known)
        return known
    known = cache.get_meta(f"run:{chash}")
    if known is None:
        try:
            on_disk = orjson.loads((out_dir / "manifest.json").read_bytes())
            if on_disk.get("compilation_hash") == chash:
                known = {k: str(v) for k, v in on_disk.get("run", {}).items()}
        except (OSError, orjson.JSONDecodeError, AttributeError):
            known = None
    if not known or set(known) != {"compiled_at", "run_id"}:
        known = {"compiled_at": spec.compiled_at, "run_id": spec.run_id}
    if spec.write:
        cache.put_meta(f"run:{chash}", known)
    return known


class _Bytes:
    """The bytes of a story's files, fetched only when a file must be written."""

    def __init__(self, cache: Any, fresh: dict[str, bytes],
                 recompute: Callable[[], tuple[dict[str, Any], dict[str, bytes]]], record: dict[str, Any]) -> None:
        self.cache, self.fresh, self.recompute, self.record = cache, fresh, recompute, record
        self.recomputed = False

    def get(self, digest: str) -> bytes:
        data = self.fresh.get(digest)
        if data is None:
            data = self.cache.get_blob(digest)
        if data is None and not self.recomputed:
            # the record survived but a file's bytes did not: compute the files again (written
            # straight to the cache: the task's transaction is already flushed)
            self.recomputed = True
            again, fresh = self.recompute()
            if again.get("files") == self.record.get("files"):
                self.fresh.update(fresh)
                data = self.fresh.get(digest)
        if data is None:
            raise CacheDamaged(f"output {digest[:12]} vanished from the cache")
        return data


def _write_outputs(out_dir: Path, files: dict[str, str], source: _Bytes, spec: CommitSpec) -> dict[str, list[int]]:
    """Write the files that differ from what is on disk (each atomically); return every file's stat."""
    stats: dict[str, list[int]] = {}
    to_write: list[tuple[str, Path, bytes]] = []
    for fname, digest in sorted(files.items()):
        path = out_dir / fname
        current = stat_or_none(path)
        same = False
        if current is not None:
            old = spec.old_outputs.get(fname)
            if old is not None and FileStat.from_list(old[1]) == current:
                same = old[0] == digest  # unchanged since the last build wrote it: it holds old[0]
            else:
                try:
                    same = digest_bytes(path.read_bytes()) == digest
                except OSError:
                    same = False
        if same:
            assert current is not None
            stats[fname] = current.to_list()
            continue
        to_write.append((fname, path, source.get(digest)))
    if to_write:
        make_dirs(out_dir)
        # one after the other in this process: file creation is CPU time in the kernel (inode
        # allocation), so writer threads only competed with the other workers for the cores
        for _, path, data in to_write:
            atomic_write(path, data)
        for fname, path, _ in to_write:
            current = stat_or_none(path)
            assert current is not None
            stats[fname] = current.to_list()
    for fname in sorted(set(spec.old_outputs) - set(files)):
        try:
            (out_dir / fname).unlink()
        except FileNotFoundError:
            pass
    return stats
