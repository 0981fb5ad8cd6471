"""Runs a build: decides per story what is stale, has the actions that must run run, records the result.

Fast path first: a story whose source stat, engine, rule data, settings and code fingerprint are
unchanged and whose outputs are intact is up to date without parsing, hashing or importing the
graph library. Only stale stories are parsed; their scenes' actions are looked up in the action
cache by key and run on a miss; early cutoff falls out of keying every action by its inputs'
*output digests*. The aggregation makes the story's files, which the task that ran it writes
atomically (``commit.py``); this process schedules tasks and keeps the state and the lock.
"""

from __future__ import annotations

import gc
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import orjson

from prodscale.core import engines as engines_mod
from prodscale.core.keys import UNICODE_VERSION
from prodscale.core.canon import canonical_json, digest_bytes, digest_obj
from prodscale.core.targets import Target, parse_target, story_target
from prodscale.core.plan import Reason, Recorded, plan_story
from prodscale.core.vocab import BuildReportDict, StoryStatus
from prodscale.errors import BuildFailed, GraphError, InputError, IntegrityError, ProdscaleError
from prodscale.exec.actions import TaskContext, TaskResult, Worker
from prodscale.exec.commit import CommitSpec
from prodscale.exec.executors import Executor, InlineExecutor, make_executor
from prodscale.exec.options import BuildOptions
from prodscale.storage.disk import REAL_DISK, Disk, SourceRead, read_source
from prodscale.storage.fs import FileStat, remove_stale_temps, stat_or_none
from prodscale.storage.lock import ProjectLock, print_waiting
from prodscale.storage.lockfile import LOCK_NAME, LockFile
from prodscale.storage.project import Project, RuleSet, StoryFile
from prodscale.storage.state import BuildLog, BuildState, StoryRecord

AGGREGATE = "aggregate"
_CODE_DIRS = ("core/stages", "core/v2_0", "core/v2_0/stages")
_CODE_FILES = ("core/fountain.py", "core/fountain_inline.py", "core/text.py", "core/scenes.py", "core/keys.py",
               "core/engines.py", "core/manifest.py")


def finding_codes(diagnostics: list[dict[str, Any]]) -> dict[str, int]:
    """Errors and warnings per code that still count (not acknowledged, not waived): {"E:PS101": 2}."""
    out: dict[str, int] = {}
    for d in diagnostics:
        if d.get("severity") in ("error", "warning") and "acknowledged" not in d and "waived" not in d:
            key = f"{'E' if d['severity'] == 'error' else 'W'}:{d['code']}"
            out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def code_fingerprint(dirs: tuple[str, ...] = _CODE_DIRS, files_: tuple[str, ...] = _CODE_FILES) -> str:
    """Digest of the code that shapes outputs, so a changed implementation re-checks every story."""
    base = Path(__file__).resolve().parents[1]
    parts: list[list[str]] = []
    files = [base / f for f in files_]
    for d in dirs:
        files.extend(sorted((base / d).glob("*.py")))
    for path in sorted(files):
        try:
            parts.append([path.relative_to(base).as_posix(), digest_bytes(path.read_bytes())])
        except FileNotFoundError:
            continue
    return digest_obj(parts)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a build runs: a build allocates hundreds of thousands of
    short-lived, acyclic objects (parsed scenes, stage outputs, JSON), which reference counting
    frees, and each automatic full collection walks every live object, the build state of a
    thousand stories included (measured: ~10 ms of a one-scene edit, ~10 % of a ``-j 1`` cold
    build). Collection resumes after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else None."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else None


def compiled_at() -> str:
    """When a compilation is recorded: SOURCE_DATE_EPOCH if set, else now (UTC, seconds)."""
    sde = source_date_epoch()
    if sde is None:
        return now_iso()
    return datetime.fromtimestamp(sde, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id() -> str:
    """A run id; derived from SOURCE_DATE_EPOCH when set, so reproducible builds agree on it."""
    sde = source_date_epoch()
    return uuid.uuid4().hex[:8] if sde is None else digest_obj(["run", sde])[:8]


@dataclass
class StoryOutcome:
    name: str
    status: StoryStatus
    engine: str
    counts: dict[str, int] = field(default_factory=dict)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    rel_path: str = ""
    text: str | None = None
    codes: dict[str, int] = field(default_factory=dict)   # see StoryRecord.codes
    fresh: bool = False   # compiled by this build (an up-to-date story's findings are summarised, not replayed)


@dataclass
class BuildReport:
    run_id: str
    executed: list[str] = field(default_factory=list)
    would_run: list[str] = field(default_factory=list)
    cached: int = 0
    failed: list[str] = field(default_factory=list)
    stories: dict[str, StoryOutcome] = field(default_factory=dict)
    errors: list[ProdscaleError] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reasons: dict[str, list[Reason]] = field(default_factory=dict)  # why each compiled story was stale
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        if self.errors:
            return max(e.exit_code for e in self.errors)
        if self.failed or any(o.status in ("blocked", "failed") for o in self.stories.values()):
            return 1
        return 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_json(self) -> BuildReportDict:
        return {
            "ok": self.ok,
            "executed": list(self.would_run if self.dry_run else self.executed),
            "cached": self.cached,
            "failed": list(self.failed),
            "stories": {n: {"status": o.status, "engine": o.engine, "counts": o.counts,
                            "diagnostics": o.diagnostics, "why": [r.to_json() for r in self.reasons.get(n, [])]}
                        for n, o in sorted(self.stories.items())},
            "seconds": round(self.seconds, 3),
            "errors": [e.render() for e in self.errors],
            "problems": list(self.problems),
            "removed": list(self.removed),
        }


class Builder:
    def __init__(self, project: Project, options: BuildOptions | None = None, *,
                 on_progress: Callable[[dict[str, Any]], None] | None = None, disk: Disk = REAL_DISK) -> None:
        self.project = project
        self.options = options or BuildOptions()
        self.disk = disk  # the story files' stats and bytes, and the clock dating the state (a fake in tests)
        self.state_dirty = False
        self._inline_worker: Worker | None = None
        self._stored_texts: dict[str, dict[str, str]] = {}
        self._preview_code: dict[str, str] = {}
        self.build_nonce = uuid.uuid4().hex   # this build's own cache records (not in any output or key)
        self.cache_generation = 0
        self.on_progress = on_progress
        self.state = BuildState(project.state_dir)
        self.log = BuildLog(project.state_dir)
        self._cache: Any = None
        self._fingerprint: str | None = None
        self._settings_digests: dict[str, str] | None = None
        self.last_parts: dict[str, dict[str, Any]] = {}
        self.plans: dict[str, dict[str, Any]] = {}  # story -> target -> log entry (also for dry runs)
        self.keep_plans = False  # `why` wants them; a build must not hold every story in memory
        self.lockfile: LockFile | None = None
        self.staged: dict[str, dict[str, Any]] = {}  # story -> computed files and manifest when not committing
        self._features: dict[str, set[str]] | None = None
        self.compiled_at = compiled_at()         # the run record of compilations first produced by this build

    # -- shared pieces -------------------------------------------------------------------------
    @property
    def cache(self) -> Any:
        if self._cache is None:
            from prodscale.storage.cache import Cache
            self._cache = Cache(self.project.state_dir / "cache")
        return self._cache

    def inline_worker(self) -> Worker:
        if self._inline_worker is None or self._inline_worker.cache is not self.cache:
            self._inline_worker = Worker(str(self.project.root), cache=self.cache, rule_sets=self.project._rules)
        return self._inline_worker

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = code_fingerprint()
        return self._fingerprint

    def lock(self) -> LockFile:
        if self.lockfile is None:
            self.lockfile = LockFile.load(self.project.root, self.state.lock_snapshot)
        return self.lockfile

    def _save_lock_and_state(self, run_id: str) -> None:
        """The lock first: a state ahead of the lock would look like tampering after a crash."""
        wrote = self.lock().save()
        if wrote or self.state_dirty or self.state.lock_snapshot is None:
            self.state.lock_snapshot = self.lock().snapshot()
            self.state.save(run_id, self.disk.now_ns())

    def engine_for(self, name: str) -> str:
        """The engine a story compiles with: a re-analysis override, else its pin, else the default."""
        return self.options.engine_overrides.get(name) or self.lock().pin(name) or self.project.settings.engine

    def engine_features(self) -> dict[str, set[str]]:
        if self._features is None:
            self._features = {}
            for version in engines_mod.ENGINES:
                index = self.project.rules(version).data.get("index.toml", {})
                self._features[version] = set(index.get("meta", {}).get("features", []))
        return self._features

    def check_engine(self, sf: StoryFile, engine: str) -> None:
        if engine not in engines_mod.ENGINES:
            where = "prodscale.lock" if self.lock().pin(sf.name) == engine else "prodscale.toml"
            raise InputError(f"the story is pinned to engine {engine}, which this prodscale does not ship "
                             f"(pin from {where})", path=sf.rel_path,
                             hint=f"install a prodscale that ships {engine}, or move the story on purpose: "
                                  f"prodscale reanalyze {sf.name} --engine "
                                  f"{engines_mod.newest()}")

    def story_key_parts(self, text_digest: str, engine: str, rules: RuleSet) -> dict[str, Any]:
        """What a story's outputs depend on, coarsely: if none of it changed, nothing needs to run."""
        if self._settings_digests is None:  # settings do not change during a build: hashed once
            raw = self.project.settings.raw
            self._settings_digests = {section: digest_obj(raw[section]) for section in sorted(raw)
                                      if section not in GENERATION_ONLY}
        return {"text": text_digest, "engine": engine, "rules": dict(rules.digests),
                "settings": dict(self._settings_digests), "code": self.fingerprint(),
                "parser": engines_mod.PARSER_VERSION, "unicode": UNICODE_VERSION}

    def read_text(self, sf: StoryFile) -> str:
        from prodscale.core.text import normalize_source
        try:
            data = self.disk.read_bytes(sf.abs_path)
        except OSError as exc:
            raise InputError(f"cannot read the story: {exc.strerror}", path=sf.rel_path) from None
        return normalize_source(data, sf.rel_path)

    def read_source(self, sf: StoryFile, rec: StoryRecord | None) -> SourceRead:
        """The story's digest, trusted from its record when the stat allows (see storage/disk.py), else read."""
        from prodscale.core.text import normalize_source
        recorded = None if rec is None else (rec.stat, rec.text_digest)
        try:
            source = read_source(self.disk, sf.abs_path, sf.rel_path, recorded, self.state.written_ns,
                                 normalize_source)
        except OSError as exc:
            raise InputError(f"cannot read the story: {exc.strerror}", path=sf.rel_path) from None
        if source is None:
            raise InputError("the story disappeared during the build", path=sf.rel_path)
        return source

    def replay_diagnostics(self, outcome: StoryOutcome) -> None:
        """Fill an up-to-date story's diagnostics from its diagnostics.json, as a compiler replays
        warnings: a finding does not vanish because the second build was a cache hit."""
        if outcome.diagnostics or outcome.status in ("error", "partial", "stale"):
            return
        try:
            data = orjson.loads((self.project.build_dir / outcome.name / "diagnostics.json").read_bytes())
            outcome.diagnostics = list(data.get("diagnostics", []))
            outcome.text = (self.project.root / outcome.rel_path).read_bytes().decode("utf-8", "replace")
        except (OSError, orjson.JSONDecodeError, AttributeError):
            return

    def plan_story(self, name: str) -> tuple[StoryFile, dict[str, Any], BuildReport]:
        """Today's action keys of one story, computed against the cache without running anything."""
        self.state.load()
        files, _ = self.project.story_files()
        by_name = {sf.name: sf for sf in files}
        if name not in by_name:
            raise GraphError(f"no story named '{name}'", hint=f"stories: {', '.join(sorted(by_name)) or '(none)'}")
        sf = by_name[name]
        report = BuildReport(run_id="plan", dry_run=True)
        self.keep_plans = True
        try:
            job = self._start_story(sf, report, [], True, force=True)
            assert job is not None
            self._run_jobs(InlineExecutor(), iter([job]), report, keep_going=True)
        finally:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
        if name not in self.plans:  # the plan stopped before the story's targets were known
            if report.errors:
                raise report.errors[0]
            raise ProdscaleError(f"'{name}' could not be planned", path=sf.rel_path,
                                 hint="run `prodscale build` to see why")
        return sf, self.plans[name], report

    # -- the build -----------------------------------------------------------------------------
    def build(self, targets: list[str] | None = None, *, dry_run: bool = False, keep_going: bool = False,
              wait: bool = True) -> BuildReport:
        started = time.perf_counter()
        report = BuildReport(run_id=new_run_id(), dry_run=dry_run)
        self.compiled_at = compiled_at()
        with gc_paused():
            self._build(report, targets, dry_run, keep_going, wait)
        report.seconds = time.perf_counter() - started
        self._emit({"event": "done", "exit_code": report.exit_code})
        return report

    def _build(self, report: BuildReport, targets: list[str] | None, dry_run: bool, keep_going: bool,
               wait: bool) -> None:
        lock = None
        if not dry_run:
            lock = ProjectLock(self.project.state_dir, "prodscale build").acquire(wait=wait, on_wait=print_waiting)
            if lock.unclean:  # the last holder died: a write it began may have left a temp file
                self._sweep_temps()
        clean = False
        try:
            self._build_locked(report, targets or [], dry_run, keep_going)
            clean = not report.failed
        finally:
            if self._cache is not None:
                report.problems.extend(self._cache.problems)
                self._cache.close()
                self._cache = None
            if lock is not None:
                if not clean:  # a killed or cancelled worker may have been writing
                    self._sweep_temps()
                lock.release()

    def _sweep_temps(self) -> None:
        """Delete the temp files of writes that never finished (under the lock: nobody is writing).
        Only after an unclean end, so a no-op build does not walk every story's folder."""
        remove_stale_temps(self.project.build_dir)
        remove_stale_temps(self.project.state_dir / "log")

    def _build_locked(self, report: BuildReport, targets: list[str], dry_run: bool, keep_going: bool) -> None:
        self.state.load()
        self.lock()  # a malformed lock stops the build before anything is touched
        report.problems.extend(self.state.messages)
        files, file_errors = self.project.story_files()
        by_name = {sf.name: sf for sf in files}
        for hidden in self.project.hidden_stories:   # skipped, but never without a word
            report.problems.append(f"{hidden} is hidden (its name starts with '.'): not compiled; rename it "
                                   "without the dot to compile it")
        if not files and not file_errors:
            # an emptied (or moved) stories folder must not read as "drop every story": nothing is touched
            raise InputError(f"no stories in '{self.project.settings.stories_dir}/' (no *.fountain file)",
                             path=self.project.settings.stories_dir,
                             hint="add a story, or fix `stories` under [project] in prodscale.toml")
        wanted: dict[str, list[Target]] = {}
        for text in targets:
            t = parse_target(text)
            if t.story not in by_name:
                raise GraphError(f"unknown target '{text}': no story named '{t.story}'",
                                 hint=f"stories: {', '.join(sorted(by_name)) or '(none)'}")
            wanted.setdefault(t.story, []).append(t)
        whole_project = not targets
        if whole_project:
            report.errors.extend(file_errors)
            for err in file_errors:
                report.failed.append(Path(err.path or "?").stem)
        selected = [sf for sf in files if whole_project or sf.name in wanted]
        executor = InlineExecutor() if dry_run else make_executor(self.options.executor, self.options.jobs, self.options.scheduler)
        stopped = [False]

        def stale_jobs() -> Any:
            for sf in selected:
                if stopped[0]:
                    return
                sub = [t for t in wanted.get(sf.name, []) if t.scene is not None or t.stage is not None]
                try:
                    job = self._start_story(sf, report, sub, dry_run)
                except (InputError, GraphError, IntegrityError) as err:
                    self._story_error(sf, report, err)
                    if not keep_going:
                        stopped[0] = True
                    continue
                if job is None:
                    self._emit({"event": "story", "story": sf.name, "status": report.stories[sf.name].status})
                    continue
                yield job

        try:
            self._run_jobs(executor, stale_jobs(), report, keep_going=keep_going, stopped=stopped)
        except BaseException:
            executor.shutdown(cancel=True)
            if not dry_run and self.options.commit and self.state_dirty:
                self._save_lock_and_state(report.run_id)  # what finished stays finished
            raise
        executor.shutdown()
        if whole_project and not report.errors and not dry_run and self.options.commit:
            for name in sorted(set(self.state.stories) - set(by_name)):
                self._remove_story(name, report)
                self.state_dirty = True
            self._remove_unremembered(set(by_name), report)
            for name in sorted(set(self.lock().stories) - set(by_name)):
                # a pin is never dropped because a file is absent (a rename, a checkout, a typo undone later)
                report.problems.append(f"{LOCK_NAME} keeps the pin of '{name}' (its story file is absent); "
                                    "`prodscale lock prune` removes the pins of absent stories")
        if not dry_run and self.options.commit:
            self._save_lock_and_state(report.run_id)

    def _story_error(self, sf: StoryFile, report: BuildReport, err: ProdscaleError) -> None:
        report.errors.append(err)
        report.failed.append(sf.name)
        report.stories[sf.name] = StoryOutcome(sf.name, "error", self.engine_for(sf.name), rel_path=sf.rel_path)
        self._emit({"event": "story", "story": sf.name, "status": "error"})

    def _emit(self, event: dict[str, Any]) -> None:
        if self.on_progress is not None:
            self.on_progress(event)

    def _run_jobs(self, executor: Executor, jobs: Any, report: BuildReport, *, keep_going: bool,
                  stopped: list[bool] | None = None) -> None:
        """Feed stale stories' tasks to the executor and merge results in story order (see Scheduler)."""
        from prodscale.exec.scheduler import Scheduler
        Scheduler(self, executor, report, keep_going=keep_going, stopped=stopped).run(jobs)

    def _task_failed(self, job: StoryJob, report: BuildReport, target: str, message: str, keep_going: bool,
                     stopped: list[bool], hint: str | None = None) -> None:
        if job.failed:
            return
        job.failed = True
        if hint is None:
            hint = "this is a bug in prodscale if it happens again; please report it"
            message = f"internal error in {message}" if ":" in message and target in message else message
        err = BuildFailed(message, hint=hint)
        report.errors.append(err)
        report.failed.append(target)
        report.stories[job.sf.name] = StoryOutcome(job.sf.name, "failed", job.engine, rel_path=job.sf.rel_path)
        if not keep_going:
            stopped[0] = True

    def _shown(self, filename: str | bytes) -> str:
        """A path as the user knows it: relative to the project when it is inside."""
        path = Path(os.fsdecode(filename))
        try:
            return path.relative_to(self.project.root).as_posix()
        except ValueError:
            return path.as_posix()

    def _remove_story(self, name: str, report: BuildReport) -> None:
        rec = self.state.stories.pop(name)
        out_dir = self.project.build_dir / name
        for fname in sorted(rec.outputs):
            try:
                (out_dir / fname).unlink()
            except FileNotFoundError:
                pass
        try:
            out_dir.rmdir()
        except OSError:
            pass
        self.log.remove(name)
        report.removed.append(name)

    def _remove_unremembered(self, live: set[str], report: BuildReport) -> None:
        """Outputs of deleted stories that the build state no longer remembers (``state.json`` lost or
        restored from elsewhere): a folder of ``build/`` whose manifest names it as its story is ours,
        and its manifest lists the files to remove. Anything else in it (a file of the user's) stays."""
        try:
            folders = sorted(p for p in self.project.build_dir.iterdir() if p.is_dir() and p.name not in live)
        except OSError:
            return
        for folder in folders:
            try:
                manifest = orjson.loads((folder / "manifest.json").read_bytes())
                core = manifest["core"]
                if core["story"] != folder.name:
                    continue
                files = sorted(set(core["outputs"]) | {"manifest.json", "manifest.txt"})
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
                continue
            for fname in files:
                if "/" in fname or fname in ("", ".", ".."):
                    continue  # a manifest names files of its own folder only
                try:
                    (folder / fname).unlink()
                except FileNotFoundError:
                    pass
            try:
                folder.rmdir()
            except OSError:
                pass
            self.log.remove(folder.name)
            report.removed.append(folder.name)

    def plan(self, sf: StoryFile, rec: StoryRecord | None, parts: dict[str, Any], key: str) -> list[Reason]:
        """Why the story must be compiled again (empty: up to date), from the one planner build and status share."""
        recorded = None if rec is None else Recorded(rec.parts, rec.story_key, rec.path)
        return plan_story(recorded, parts, key, sf.rel_path,
                          lambda: rec is not None and self._outputs_intact(sf.name, rec))

    def _outputs_intact(self, name: str, rec: StoryRecord) -> bool:
        out_dir = self.project.build_dir / name
        for fname, digest in rec.outputs.items():
            st = stat_or_none(out_dir / fname)
            if st is None:
                return False
            if st != rec.output_stats.get(fname):
                try:
                    if digest_bytes((out_dir / fname).read_bytes()) != digest:
                        return False
                except OSError:
                    return False
                rec.set_output_stat(fname, st)
        return True

    def _start_story(self, sf: StoryFile, report: BuildReport, sub: list[Target], dry_run: bool,
                     force: bool = False) -> StoryJob | None:
        """Up to date (None, recorded in the report) or the story's job: parsed, engine settled, split
        into scene chunks ready to run."""
        engine = self.engine_for(sf.name)
        self.check_engine(sf, engine)
        rules = self.project.rules(engine)
        rec = self.state.stories.get(sf.name)
        source = self.read_source(sf, rec)
        st, text, text_digest = source.stat, source.text, source.text_digest
        parts = self.story_key_parts(text_digest, engine, rules)
        key = digest_obj(parts)
        self.last_parts[sf.name] = parts
        reasons = [] if force or sub else self.plan(sf, rec, parts, key)
        if not force and not sub and not reasons:
            assert rec is not None  # the planner calls a story without a record new
            entry = self.lock().stories.get(sf.name)
            if entry is None:
                self.lock().stories[sf.name] = dict(rec.lock_entry)  # a deleted lock is restored
            elif entry != rec.lock_entry:
                raise IntegrityError(f"the {LOCK_NAME} entry of '{sf.name}' does not match its last compilation "
                                     f"(build/{sf.name}/manifest.json)", path=LOCK_NAME,
                                     hint="run `prodscale verify` to see which file was changed; restore it "
                                          "from version control")
            report.cached += rec.counts.get("actions", 0)
            report.stories[sf.name] = StoryOutcome(sf.name, rec.status, engine, rel_path=sf.rel_path,
                                                   counts=dict(rec.counts), codes=dict(rec.codes))
            if rec.stat != st or text is not None:
                # a new stat, or a racy one the bytes just proved: record it and re-date the state, so the
                # next build trusts the stat instead of reading the file again
                rec.stat = st
                self.state_dirty = True
            return None
        if text is None:
            text = self.read_text(sf)
        if reasons:
            report.reasons[sf.name] = reasons
        return self._prepare(sf, text, text_digest, key, engine, rules, report, sub, dry_run, st)

    def _settle_engine(self, sf: StoryFile, story: Any, engine: str) -> tuple[str, str]:
        """(engine, floor) for a parsed story: a new story goes to the default engine, or to its floor
        when it uses a feature the default does not compile; a pinned story below its floor is an error."""
        from prodscale.core.features import choose_engine, features_used
        used = features_used(story)
        choice = choose_engine(used, self.engine_features(), default=engine,
                               wanted=self.options.engine_overrides.get(sf.name) or self.lock().pin(sf.name))
        if choice.outcome == "no-engine":
            raise InputError(f"the story uses {', '.join(sorted(choice.missing))}, which no shipped engine "
                             "compiles", path=sf.rel_path, hint="upgrade prodscale")
        if choice.outcome == "below-floor":
            pinned = self.options.engine_overrides.get(sf.name) or self.lock().pin(sf.name)
            raise InputError(f"the story uses {', '.join(sorted(choice.missing))}, which its pinned engine {pinned} "
                             f"does not compile (re-analysis floor {choice.floor})", path=sf.rel_path,
                             hint=f"move it on purpose: prodscale reanalyze {sf.name} --engine {choice.floor}")
        assert choice.engine is not None and choice.floor is not None
        return choice.engine, choice.floor

    def _prepare(self, sf: StoryFile, text: str, text_digest: str, key: str, engine_version: str,
                 rules: RuleSet, report: BuildReport, sub: list[Target], dry_run: bool,
                 st: FileStat) -> StoryJob:
        from prodscale.core.fountain import parse

        settings = self.project.settings
        story = parse(text, path=sf.rel_path, heading_prefixes=settings.heading_prefixes)
        settled, floor = self._settle_engine(sf, story, engine_version)
        if settled != engine_version:
            engine_version, rules = settled, self.project.rules(settled)
            parts = self.story_key_parts(text_digest, settled, rules)
            self.last_parts[sf.name], key = parts, digest_obj(parts)
        engine = engines_mod.get_engine(engine_version)
        reading = engine.read(story, rules.data, tuple(settings.heading_prefixes),
                              {"story": sf.name, "path": sf.rel_path, "waive": settings.get("waive") or []})
        units = reading.units
        needed = self._needed(sf.name, units, engine, sub)
        log = self.log.load(sf.name)
        rule_texts: dict[str, str] = {}
        if not dry_run:
            rule_texts = self._store_texts(engine_version)
        ctx = TaskContext(root=str(self.project.root), engine=engine_version, rules_digest=rules.digest,
                          build_nonce=self.build_nonce,
                          preview_code=self.preview_code(engine),
                          settings_raw=settings.raw, run_id=report.run_id, at=compiled_at(), dry_run=dry_run)
        # the story's text, stored once: `why` slices a scene's lines out of it for its diffs
        text_blob = text_digest  # stored by the story's commit, in the same transaction as its manifest
        scenes = [{"index": u.index, "payload": u.payload, "first": u.first_line, "last": u.last_line,
                   "text": text_blob, "line_offset": u.line_offset, "heading": u.heading, "number": u.number}
                  for u in units]
        single = len(scenes) <= STORY_TASK_SCENES
        chunks = [scenes] if single else [scenes[i:i + CHUNK_SCENES] for i in range(0, len(scenes), CHUNK_SCENES)]
        meta = {"name": sf.name, "path": sf.rel_path, "title_page": {f.key: f.value for f in story.title_page},
                "prologue_diagnostics": [w.to_dict() for w in story.warnings], "engine": engine_version,
                **reading.meta}
        return StoryJob(sf=sf, text=text, text_digest=text_digest, key=key, engine=engine_version, floor=floor,
                        st=st, units=units, needed=needed, old_targets=log.get("targets", {}), log=log, ctx=ctx,
                        chunks=chunks, chunk_results=[] if single else [None] * len(chunks), rule_texts=rule_texts,
                        meta=meta, single=single,
                        agg_needed=needed is None or story_target(sf.name, AGGREGATE) in needed,
                        partial=bool(sub), n_actions=len(units) * len(engine.stages) + 1, rules=rules)

    def preview_code(self, engine: Any) -> str:
        """A preview engine's code digest (its own modules), empty for a shipped engine."""
        if not engine.preview:
            return ""
        if engine.version not in self._preview_code:
            pkg = engine.reader_module.rsplit(".", 1)[0].split(".", 1)[1].replace(".", "/")   # core/v2_0
            self._preview_code[engine.version] = code_fingerprint((pkg, f"{pkg}/stages"), ())[:16]
        return self._preview_code[engine.version]

    def _store_texts(self, version: str) -> dict[str, str]:
        """The texts `why` diffs later (rule files, settings), stored once per build and engine."""
        stored = self._stored_texts.get(version)
        if stored is None:
            cache, rules = self.cache, self.project.rules(version)
            stored = self._stored_texts[version] = {}
            blobs = [t.encode("utf-8") for t in rules.texts.values()]
            for spec in engines_mod.get_engine(version).stages:
                blobs.extend(canonical_json(v) for v in self.project.settings.select(spec.settings).values())
            for fname, data in zip(rules.texts, blobs[:len(rules.texts)], strict=True):
                stored[fname] = digest_bytes(data)
            for data in blobs:  # usually there from an earlier build: a verified read beats a write
                if not cache.has_valid_blob(digest_bytes(data)):
                    cache.put_blob(data)
        return stored

    def _commit_spec(self, job: StoryJob, computed: dict[str, Any]) -> CommitSpec | None:
        """What the task that aggregates the story needs to commit it (None for a dry run)."""
        if job.ctx.dry_run:
            return None
        sf = job.sf
        parts = self.last_parts[sf.name]
        old = self.state.stories.get(sf.name)
        base = dict(job.old_targets) if job.partial else {}
        base.update(computed)
        inputs = {k: parts[k] for k in ("text", "engine", "rules", "settings")}
        if job.ctx.preview_code:   # a preview's code is an input too: its change is no drift (nor is its shipping)
            inputs["preview"] = job.ctx.preview_code
        return CommitSpec(
            name=sf.name, text=job.text, text_digest=job.text_digest, engine=job.engine,
            floor=job.floor, inputs=digest_obj(inputs),
            run_id=job.ctx.run_id, compiled_at=self.compiled_at, old_lock=self.lock().stories.get(sf.name),
            pinned_time=source_date_epoch() is not None,
            old_outputs={} if old is None else {f: (d, old.output_stats[f].to_list()) for f, d in old.outputs.items()
                                                if f in old.output_stats},
            base_targets=base, check_drift=self.options.check_drift, write=self.options.commit)

    def _finalize(self, job: StoryJob, report: BuildReport) -> None:
        """Record a story whose tasks are done: its state record, lock entry and outcome (the task
        that aggregated it already wrote its files and build log)."""
        sf = job.sf
        results = [r for r in [*job.chunk_results, job.agg_result] if r is not None]
        committed = job.agg_result.committed if job.agg_result is not None else None
        dry_run = job.ctx.dry_run
        if self.keep_plans or committed is None:
            new_targets: dict[str, Any] = dict(job.old_targets) if job.partial else {}
            for r in results:
                new_targets.update(r.entries)
            if self.keep_plans:
                self.plans[sf.name] = {"targets": new_targets, "text": job.text, "units": job.units,
                                       "rules": job.rules}
        if not job.agg_needed:  # only some scene targets were asked for
            if not dry_run and self.options.commit:
                job.log["targets"] = new_targets
                self.log.save(sf.name, job.log)
            report.stories[sf.name] = StoryOutcome(sf.name, "partial", job.engine, rel_path=sf.rel_path)
            return
        if dry_run or committed is None:
            report.stories[sf.name] = StoryOutcome(sf.name, "stale", job.engine, rel_path=sf.rel_path)
            return
        if committed.drift is not None:
            new, locked = committed.drift
            raise IntegrityError(
                f"drift: '{sf.name}' compiled on engine {job.engine} from unchanged inputs gives compilation hash "
                f"{new[:10]}..., but {LOCK_NAME} holds {locked[:10]}...",
                path=sf.rel_path, hint=f"the lock and the outputs were left as they were. If {LOCK_NAME} was edited "
                                       "by hand, restore it from version control; if not, the engine drifted "
                                       "(a shipped engine's output must never change): report this")
        if committed.staged is not None:  # computed, not committed (reanalyze --dry-run)
            self.staged[sf.name] = committed.staged
            report.stories[sf.name] = StoryOutcome(sf.name, "staged", job.engine, rel_path=sf.rel_path)
            return
        summary = committed.record["summary"]
        self.lock().stories[sf.name] = committed.lock_entry
        counts = {"actions": job.n_actions, "scenes": len(job.units), "errors": int(summary.get("errors", 0)),
                  "warnings": int(summary.get("warnings", 0))}
        codes = finding_codes(committed.record.get("diagnostics", []))
        self.state.stories[sf.name] = StoryRecord(
            path=sf.rel_path, stat=job.st, text_digest=job.text_digest, story_key=job.key, engine=job.engine,
            status=summary["status"], outputs=dict(committed.outputs),
            output_stats={f: FileStat.from_list(v) for f, v in committed.stats.items()}, counts=counts,
            parts=self.last_parts.get(sf.name) or {}, lock_entry=dict(committed.lock_entry), codes=codes)
        self.state_dirty = True
        # diagnostics are not held for thousands of stories: whoever shows them reads diagnostics.json
        report.stories[sf.name] = StoryOutcome(sf.name, summary["status"], job.engine, counts=dict(counts),
                                               rel_path=sf.rel_path, codes=dict(codes), fresh=True)

    def _needed(self, story: str, units: list[Any], engine: Any, sub: list[Target]) -> set[str] | None:
        if not sub:
            return None
        from prodscale.core.graph import actions_for, build_graph, resolve
        graph = build_graph([(story, len(units))], engine.stages)
        return actions_for(graph, [resolve(graph, t) for t in sub])


# settings sections no compilation reads (generation only): editing them leaves stories up to date
GENERATION_ONLY = ("providers", "budget")

CHUNK_SCENES = 16  # scenes per task of a long story: big enough to amortize dispatch, small enough to spread it
STORY_TASK_SCENES = 64  # a story up to this long is one task (scenes, aggregation, commit in one transaction)


@dataclass
class StoryJob:
    """A stale story on its way through the executor."""

    sf: StoryFile
    text: str
    text_digest: str
    key: str
    engine: str
    floor: str
    st: FileStat
    units: list[Any]
    needed: set[str] | None
    old_targets: dict[str, Any]
    log: dict[str, Any]
    ctx: TaskContext
    chunks: list[list[dict[str, Any]]]
    chunk_results: list[TaskResult | None]
    rule_texts: dict[str, str]
    meta: dict[str, Any]
    partial: bool
    n_actions: int
    rules: RuleSet
    single: bool = False        # one task for the whole story (else scene chunks, then the aggregation)
    agg_needed: bool = True     # False when only some scene targets were asked for
    digests: dict[int, dict[str, str | None]] = field(default_factory=dict)
    keys: dict[int, dict[str, str]] = field(default_factory=dict)   # scene -> stage -> action key
    agg_result: TaskResult | None = None
    failed: bool = False

    generation: int = 0

    def restart(self, generation: int) -> None:
        """Forget task results (they went to a replaced cache) and run again against ``generation``."""
        from dataclasses import replace
        self.generation = generation
        self.ctx = replace(self.ctx, cache_generation=generation)
        self.chunk_results = [] if self.single else [None] * len(self.chunks)
        self.digests, self.keys = {}, {}
        self.agg_result = None
        self.failed = False

    def done_record(self) -> tuple[str, list[tuple[str, str, bool]], list[str]]:
        """What the report needs of a finished story; the rest (text, scenes, log entries) is dropped
        so a build of thousands of stories holds only the stories in flight."""
        executed: list[tuple[str, str, bool]] = []   # the story's claims: (target, key, executed here)
        would_run: list[str] = []
        for r in [*self.chunk_results, self.agg_result]:
            if r is not None:
                executed.extend(r.claims)
                would_run.extend(r.would_run)
        self.text, self.units, self.chunks, self.old_targets, self.log = "", [], [], {}, {}
        self.chunk_results, self.agg_result, self.digests, self.keys = [], None, {}, {}
        return self.sf.name, executed, would_run

    def old_for(self, chunk: list[dict[str, Any]]) -> dict[str, Any]:
        """The previous log entries of the chunk's targets (for `why`'s "before")."""
        prefixes = tuple(f"{self.sf.name}#{sc['index']}:" for sc in chunk)
        return {k: v for k, v in self.old_targets.items() if k.startswith(prefixes)}

    def inline(self, executor: Executor, builder: Builder) -> dict[str, Any]:
        """Inline tasks share the builder's cache and rule data instead of opening their own."""
        if executor.inline:
            return {"worker": builder.inline_worker()}
        return {}
