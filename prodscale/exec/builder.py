"""Runs a build: decides per story what is stale, runs the actions that must run, writes outputs.

Fast path first: a story whose source stat, engine, rule data, settings and code fingerprint are
unchanged and whose outputs are intact is up to date without parsing, hashing or importing the
graph library. Only stale stories are parsed; their scenes' actions are looked up in the action
cache by key and run on a miss; early cutoff falls out of keying every action by its inputs'
*output digests*. The aggregation makes the story's files, written atomically.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import orjson

from prodscale.core import engines as engines_mod
from prodscale.core.canon import canonical_json, digest_bytes, digest_obj
from prodscale.core.targets import Target, parse_target, scene_target, story_target
from prodscale.errors import GraphError, InputError, IntegrityError, ProdscaleError
from prodscale.storage.fs import FileStat, atomic_write, remove_stale_temps, stat_or_none
from prodscale.storage.lock import ProjectLock, print_waiting
from prodscale.storage.lockfile import LOCK_NAME, LockFile
from prodscale.storage.project import Project, RuleSet, StoryFile
from prodscale.storage.state import BuildLog, BuildState, StoryRecord

AGGREGATE = "aggregate"
_CODE_DIRS = ("core/stages",)
_CODE_FILES = ("core/fountain.py", "core/text.py", "core/scenes.py", "core/keys.py")


def code_fingerprint() -> str:
    """Digest of the code that shapes outputs, so a changed implementation re-checks every story."""
    base = Path(__file__).resolve().parents[1]
    parts: list[list[str]] = []
    files = [base / f for f in _CODE_FILES]
    for d in _CODE_DIRS:
        files.extend(sorted((base / d).glob("*.py")))
    for path in sorted(files):
        try:
            parts.append([path.relative_to(base).as_posix(), digest_bytes(path.read_bytes())])
        except FileNotFoundError:
            continue
    return digest_obj(parts)


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else None."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else None


def compiled_at() -> str:
    """When a compilation is recorded: SOURCE_DATE_EPOCH if set, else now (UTC, seconds)."""
    sde = source_date_epoch()
    if sde is None:
        return now_iso()
    return datetime.fromtimestamp(sde, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id() -> str:
    """A run id; derived from SOURCE_DATE_EPOCH when set, so reproducible builds agree on it."""
    sde = source_date_epoch()
    return uuid.uuid4().hex[:8] if sde is None else digest_obj(["run", sde])[:8]


@dataclass
class StoryOutcome:
    name: str
    status: str            # complete | blocked | failed | error | up-to-date:<status>
    engine: str
    counts: dict[str, int] = field(default_factory=dict)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    rel_path: str = ""
    text: str | None = None


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

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "executed": list(self.would_run if self.dry_run else self.executed),
            "cached": self.cached,
            "failed": list(self.failed),
            "stories": {n: {"status": o.status, "engine": o.engine, "counts": o.counts,
                            "diagnostics": o.diagnostics} for n, o in sorted(self.stories.items())},
            "seconds": round(self.seconds, 3),
            "errors": [e.render() for e in self.errors],
            "problems": list(self.problems),
        }


class ActionFailed(Exception):
    def __init__(self, target: str, exc: BaseException) -> None:
        super().__init__(f"{target}: {type(exc).__name__}: {exc}")
        self.target = target


class Builder:
    def __init__(self, project: Project, *, on_progress: Callable[[str], None] | None = None) -> None:
        self.project = project
        self.on_progress = on_progress
        self.state = BuildState(project.state_dir)
        self.log = BuildLog(project.state_dir)
        self._cache: Any = None
        self._fingerprint: str | None = None
        self.last_parts: dict[str, dict[str, Any]] = {}
        self.plans: dict[str, dict[str, Any]] = {}  # story -> target -> log entry (also for dry runs)
        self.keep_plans = False  # `why` wants them; a build must not hold every story in memory
        self.lockfile: LockFile | None = None
        self.overrides: dict[str, str] = {}     # story -> engine (reanalyze)
        self.commit = True                       # False: compute outputs but write nothing (reanalyze --dry-run)
        self.staged: dict[str, dict[str, Any]] = {}  # story -> computed files and manifest when not committing
        self._features: dict[str, set[str]] | None = None
        self.check_drift = True                  # verify --rebuild compares itself and reports drift

    # -- shared pieces -------------------------------------------------------------------------
    @property
    def cache(self) -> Any:
        if self._cache is None:
            from prodscale.storage.cache import Cache
            self._cache = Cache(self.project.state_dir / "cache")
        return self._cache

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = code_fingerprint()
        return self._fingerprint

    def lock(self) -> LockFile:
        if self.lockfile is None:
            self.lockfile = LockFile.load(self.project.root)
        return self.lockfile

    def engine_for(self, name: str) -> str:
        """The engine a story compiles with: a re-analysis override, else its pin, else the default."""
        return self.overrides.get(name) or self.lock().pin(name) or self.project.settings.engine

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
        raw = self.project.settings.raw
        return {"text": text_digest, "engine": engine, "rules": dict(rules.digests),
                "settings": {section: digest_obj(raw[section]) for section in sorted(raw)},
                "code": self.fingerprint(), "parser": engines_mod.PARSER_VERSION}

    def read_text(self, sf: StoryFile) -> str:
        from prodscale.core.text import normalize_source
        try:
            data = sf.abs_path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the story: {exc.strerror}", path=sf.rel_path) from None
        return normalize_source(data, sf.rel_path)

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
        engine = self.engine_for(name)
        rules = self.project.rules(engine)
        text = self.read_text(sf)
        text_digest = digest_bytes(text.encode("utf-8"))
        parts = self.story_key_parts(text_digest, engine, rules)
        self.last_parts[name] = parts
        st = stat_or_none(sf.abs_path)
        assert st is not None
        try:
            self._compile(sf, text, text_digest, digest_obj(parts), engine, rules, report, [], True, st)
        finally:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
        return sf, self.plans[name], report

    # -- the build -----------------------------------------------------------------------------
    def build(self, targets: list[str] | None = None, *, dry_run: bool = False, keep_going: bool = False,
              wait: bool = True) -> BuildReport:
        started = time.perf_counter()
        report = BuildReport(run_id=new_run_id(), dry_run=dry_run)
        lock = None
        if not dry_run:
            lock = ProjectLock(self.project.state_dir, "prodscale build").acquire(wait=wait, on_wait=print_waiting)
        try:
            self._build_locked(report, targets or [], dry_run, keep_going)
        finally:
            if self._cache is not None:
                report.problems.extend(self._cache.problems)
                self._cache.close()
                self._cache = None
            if lock is not None:
                lock.release()
        report.seconds = time.perf_counter() - started
        return report

    def _build_locked(self, report: BuildReport, targets: list[str], dry_run: bool, keep_going: bool) -> None:
        self.lock()  # a malformed lock stops the build before anything is touched
        self.state.load()
        report.problems.extend(self.state.messages)
        files, file_errors = self.project.story_files()
        by_name = {sf.name: sf for sf in files}
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
        state_dirty = False
        remove_stale_temps(self.project.build_dir)
        for sf in files:
            if not whole_project and sf.name not in wanted:
                continue
            sub = [t for t in wanted.get(sf.name, []) if t.scene is not None or t.stage is not None]
            try:
                changed = self._build_story(sf, report, sub, dry_run)
                state_dirty = state_dirty or changed
            except (InputError, GraphError, IntegrityError) as err:
                report.errors.append(err)
                report.failed.append(sf.name)
                report.stories[sf.name] = StoryOutcome(sf.name, "error", self.engine_for(sf.name))
                if not keep_going:
                    break
            except ActionFailed as err:
                report.errors.append(ProdscaleError(f"internal error in {err}",
                                                    hint="this is a bug in prodscale; please report it", ))
                report.errors[-1].exit_code = 1
                report.failed.append(err.target)
                report.stories[sf.name] = StoryOutcome(sf.name, "failed", self.engine_for(sf.name))
                if not keep_going:
                    break
            if self.on_progress is not None:
                self.on_progress(sf.name)
        if whole_project and not report.errors and not dry_run and self.commit:
            for name in sorted(set(self.state.stories) - set(by_name)):
                self._remove_story(name, report)
                state_dirty = True
            for name in sorted(set(self.lock().stories) - set(by_name)):
                del self.lock().stories[name]
        if not dry_run and self.commit:
            if state_dirty:
                self.state.save(report.run_id)
            self.lock().save()

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
                rec.output_stats[fname] = st
        return True

    def _build_story(self, sf: StoryFile, report: BuildReport, sub: list[Target], dry_run: bool) -> bool:
        """Bring one story up to date. Returns True when the state record changed."""
        engine = self.engine_for(sf.name)
        self.check_engine(sf, engine)
        rules = self.project.rules(engine)
        rec = self.state.stories.get(sf.name)
        st = stat_or_none(sf.abs_path)
        if st is None:
            raise InputError("the story disappeared during the build", path=sf.rel_path)
        text: str | None = None
        if rec is not None and rec.stat == st and not self.state.is_racy(st):
            text_digest = rec.text_digest
        else:
            text = self.read_text(sf)
            text_digest = digest_bytes(text.encode("utf-8"))
        parts = self.story_key_parts(text_digest, engine, rules)
        key = digest_obj(parts)
        self.last_parts[sf.name] = parts
        if not sub and rec is not None and rec.story_key == key and rec.path == sf.rel_path \
                and self._outputs_intact(sf.name, rec):
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
                                                   counts=dict(rec.counts))
            if rec.stat != st:
                rec.stat = st
                return True
            return False
        if text is None:
            text = self.read_text(sf)
        return self._compile(sf, text, text_digest, key, engine, rules, report, sub, dry_run, st)

    def _settle_engine(self, sf: StoryFile, story: Any, engine: str) -> tuple[str, str]:
        """(engine, floor) for a parsed story: a new story goes to the default engine, or to its floor
        when it uses a feature the default does not compile; a pinned story below its floor is an error."""
        from prodscale.core.features import features_used, floor_for, version_key
        used = features_used(story)
        floor = floor_for(used, self.engine_features())
        if floor is None:
            raise InputError(f"the story uses {', '.join(sorted(used))}, which no shipped engine compiles",
                             path=sf.rel_path, hint="upgrade prodscale")
        pinned = self.overrides.get(sf.name) or self.lock().pin(sf.name)
        if pinned is None:
            return (floor if version_key(floor) > version_key(engine) else engine), floor
        if version_key(pinned) < version_key(floor):
            missing = sorted(used - self.engine_features().get(pinned, set()))
            raise InputError(f"the story uses {', '.join(missing)}, which its pinned engine {pinned} does not "
                             f"compile (re-analysis floor {floor})", path=sf.rel_path,
                             hint=f"move it on purpose: prodscale reanalyze {sf.name} --engine {floor}")
        return pinned, floor

    def _compile(self, sf: StoryFile, text: str, text_digest: str, key: str, engine_version: str, rules: RuleSet,
                 report: BuildReport, sub: list[Target], dry_run: bool, st: FileStat) -> bool:
        from prodscale.core.fountain import parse
        from prodscale.core.scenes import scene_units, source_lines

        settings = self.project.settings
        story = parse(text, path=sf.rel_path, heading_prefixes=settings.heading_prefixes)
        settled, floor = self._settle_engine(sf, story, engine_version)
        if settled != engine_version:
            engine_version, rules = settled, self.project.rules(settled)
            parts = self.story_key_parts(text_digest, settled, rules)
            self.last_parts[sf.name], key = parts, digest_obj(parts)
        engine = engines_mod.get_engine(engine_version)
        units = scene_units(story)
        needed = self._needed(sf.name, units, engine, sub)
        cache = self.cache
        run_id = report.run_id
        at = now_iso()
        log = self.log.load(sf.name)
        old_targets: dict[str, Any] = log.get("targets", {})
        new_targets: dict[str, Any] = dict(old_targets) if sub else {}
        rule_texts = {}
        if not dry_run:
            for fname, rtext in rules.texts.items():
                rule_texts[fname] = cache.put_blob(rtext.encode("utf-8"))

        def run_action(target: str, spec: Any, inputs: dict[str, Any], input_digests: dict[str, str],
                       extra_log: dict[str, Any], call: Callable[[], dict[str, Any]],
                       force: bool = False) -> tuple[Any, str | None]:
            sel = settings.select(spec.settings)
            comps = _components(spec, engine_version, rules, sel, input_digests)
            akey = digest_obj(comps)
            usable = not force and all(v is not None for v in input_digests.values())
            record = cache.get_action(akey) if usable else None
            out_obj = None
            out_digest = None
            if record is not None:
                blob = cache.get_blob(record["out"])
                if blob is not None:
                    out_obj, out_digest = orjson.loads(blob), record["out"]
            prev = old_targets.get(target)
            if out_digest is not None:
                report.cached += 1
                entry = {"key": akey, "components": comps, "status": "cached", "run": record.get("run"),
                         "at": record.get("at"), "out": out_digest, **extra_log}
                if prev is not None and prev.get("key") == akey:
                    entry["prev"] = prev.get("prev")
                new_targets[target] = entry
                return out_obj, out_digest
            if dry_run:
                report.would_run.append(target)
                new_targets[target] = {"key": akey, "components": comps, "status": "would-run", **extra_log}
                return None, None
            try:
                out_obj = call()
            except Exception as exc:  # a stage bug: report it with the target, never crash the build
                raise ActionFailed(target, exc) from exc
            # floats are refused where outputs become files (pretty_json) and in every key
            blob = canonical_json(out_obj, check=False)
            out_digest = cache.put_blob(blob)
            cache.put_action(akey, {"out": out_digest, "target": target, "run": run_id, "at": at})
            for name, value in sel.items():
                cache.put_blob(canonical_json(value))
            report.executed.append(target)
            entry = {"key": akey, "components": comps, "status": "executed", "run": run_id, "at": at,
                     "out": out_digest, "rule_texts": {f: rule_texts.get(f) for f in spec.rule_files}, **extra_log}
            if prev is not None and prev.get("key") != akey:
                entry["prev"] = {k: prev.get(k) for k in ("components", "source", "run", "at", "rule_texts", "out")}
            new_targets[target] = entry
            return out_obj, out_digest

        scene_results: list[dict[str, Any]] = []
        with cache.batch():
            for unit in units:
                outputs: dict[str, Any] = {}
                digests: dict[str, str | None] = {}
                scene_blob = canonical_json(unit.payload)
                scene_digest = digest_bytes(scene_blob)
                source: dict[str, Any] = {"first": unit.first_line, "last": unit.last_line}
                if not dry_run:
                    source["digest"] = cache.put_blob(source_lines(text, unit.first_line, unit.last_line)
                                                      .encode("utf-8"))
                for spec in engine.stages:
                    target = scene_target(sf.name, unit.index, spec.name)
                    if needed is not None and target not in needed:
                        continue
                    in_digests: dict[str, str | None] = {}
                    in_objs: dict[str, Any] = {}
                    for dep in spec.inputs:
                        if dep == "scene":
                            in_digests["scene"], in_objs["scene"] = scene_digest, unit.payload
                        else:
                            in_digests[dep], in_objs[dep] = digests.get(dep), outputs.get(dep)
                    rule_data = {f: rules.data[f] for f in spec.rule_files}
                    sel = settings.select(spec.settings)
                    obj, dig = run_action(target, spec, in_objs, in_digests, {"source": source},
                                          lambda spec=spec, in_objs=in_objs, rule_data=rule_data, sel=sel:
                                          spec.run(in_objs, rule_data, sel))
                    outputs[spec.name], digests[spec.name] = obj, dig
                scene_results.append({"unit": unit, "outputs": outputs, "digests": digests})

            if needed is not None and story_target(sf.name, AGGREGATE) not in needed:
                if self.keep_plans:
                    self.plans[sf.name] = {"targets": new_targets, "text": text, "units": units, "rules": rules}
                if not dry_run:
                    log["targets"] = new_targets
                    self.log.save(sf.name, log)
                report.stories[sf.name] = StoryOutcome(sf.name, "partial", engine_version, rel_path=sf.rel_path)
                return False

            meta = {"name": sf.name, "path": sf.rel_path,
                    "title_page": {f.key: f.value for f in story.title_page},
                    "prologue_diagnostics": [w.to_dict() for w in story.warnings], "engine": engine_version}
            agg_inputs = [{"index": r["unit"].index, "line_offset": r["unit"].line_offset,
                           "heading": r["unit"].heading, "number": r["unit"].number, **r["outputs"]}
                          for r in scene_results]
            agg_digests = {"story": digest_obj(meta),
                           "scenes": digest_obj([[r["unit"].index, r["unit"].line_offset, r["unit"].heading,
                                                  r["unit"].number, r["digests"]] for r in scene_results])}
            if any(d is None for r in scene_results for d in r["digests"].values()):
                agg_digests["scenes"] = None  # type: ignore[assignment]
            agg = engine.aggregate
            agg_rules = {f: rules.data[f] for f in agg.rule_files}
            agg_sel = settings.select(agg.settings)
            def aggregate() -> dict[str, Any]:
                return _aggregate_record(cache, agg.run(meta, agg_inputs, agg_rules, agg_sel))

            result, result_digest = run_action(story_target(sf.name, AGGREGATE), agg, {}, agg_digests, {},
                                               aggregate)
            if result is not None and not all(cache.has_valid_blob(d) for d in result["files"].values()):
                # the record survived but a file's bytes did not: recompute rather than fail
                if story_target(sf.name, AGGREGATE) in report.executed:
                    report.executed.remove(story_target(sf.name, AGGREGATE))
                else:
                    report.cached -= 1
                result, result_digest = run_action(story_target(sf.name, AGGREGATE), agg, {}, agg_digests, {},
                                                   aggregate, force=True)
        if self.keep_plans:
            self.plans[sf.name] = {"targets": new_targets, "text": text, "units": units, "rules": rules}
        if dry_run or result is None:
            report.stories[sf.name] = StoryOutcome(sf.name, "stale", engine_version, rel_path=sf.rel_path)
            return False
        summary = result["summary"]
        result = self._with_manifest(sf, result, text_digest, engine_version, floor, report)
        if result is None:
            return False
        rec = self._write_outputs(sf, result, text_digest, key, self.last_parts[sf.name], engine_version, st,
                                  len(scene_results) * len(engine.stages) + 1, len(scene_results))
        self.state.stories[sf.name] = rec
        log["targets"] = new_targets
        log["run"] = run_id
        self.log.save(sf.name, log)
        report.stories[sf.name] = StoryOutcome(sf.name, summary["status"], engine_version,
                                               counts=dict(rec.counts), diagnostics=result.get("diagnostics", []),
                                               rel_path=sf.rel_path, text=text)
        return True

    def _with_manifest(self, sf: StoryFile, result: dict[str, Any], text_digest: str, engine: str, floor: str,
                       report: BuildReport) -> dict[str, Any] | None:
        """Add manifest.json and manifest.txt to the story's files, check for drift, stage the lock entry."""
        from prodscale.core.manifest import build_core, compilation_hash, manifest_document, render_text
        from prodscale.core.canon import pretty_json
        cache = self.cache
        core = build_core(story=sf.name, engine=engine, floor=floor, story_hash=text_digest,
                          files=result["files"], summary=result["summary"])
        chash = compilation_hash(core)
        parts = self.last_parts[sf.name]
        inputs = digest_obj({k: parts[k] for k in ("text", "engine", "rules", "settings")})
        entry = {"engine": engine, "floor": floor, "inputs": inputs, "story_hash": text_digest,
                 "shot_specs_hash": core["shot_specs_hash"], "prompts_hash": core["prompt_hash"],
                 "compilation_hash": chash}
        old = self.lock().stories.get(sf.name)
        if self.check_drift and old is not None and old.get("inputs") == inputs and old.get("engine") == engine \
                and old.get("compilation_hash") != chash:
            raise IntegrityError(
                f"drift: '{sf.name}' compiled on engine {engine} from unchanged inputs gives compilation hash "
                f"{chash[:10]}..., but {LOCK_NAME} holds {str(old.get('compilation_hash'))[:10]}...",
                path=sf.rel_path, hint="a shipped engine's output must never change: report this; the lock and "
                                       "the outputs were left as they were")
        run = self._run_record(sf, chash, report)
        manifest_json = pretty_json(manifest_document(core, run))
        files = dict(result["files"])
        files["manifest.json"] = cache.put_blob(manifest_json)
        files["manifest.txt"] = cache.put_blob(render_text(core, run).encode("utf-8"))
        if not self.commit:
            self.staged[sf.name] = {"files": files, "core": core, "entry": entry}
            return None
        self.lock().stories[sf.name] = entry
        return {**result, "files": files, "lock_entry": entry, "floor": floor}

    def _run_record(self, sf: StoryFile, chash: str, report: BuildReport) -> dict[str, str]:
        """When this exact compilation was first produced: reused while the compilation hash holds,
        so rebuilding unchanged work (even from an empty cache) leaves manifest.json byte-identical."""
        cache = self.cache
        known = cache.get_meta(f"run:{chash}")
        if known is None:
            try:
                on_disk = orjson.loads((self.project.build_dir / sf.name / "manifest.json").read_bytes())
                if on_disk.get("compilation_hash") == chash:
                    known = {k: str(v) for k, v in on_disk.get("run", {}).items()}
            except (OSError, orjson.JSONDecodeError, AttributeError):
                known = None
        if not known or set(known) != {"compiled_at", "run_id"}:
            known = {"compiled_at": compiled_at(), "run_id": report.run_id}
        if self.commit and not report.dry_run:
            cache.put_meta(f"run:{chash}", known)
        return known

    def _needed(self, story: str, units: list[Any], engine: Any, sub: list[Target]) -> set[str] | None:
        if not sub:
            return None
        from prodscale.core.graph import actions_for, build_graph, resolve
        graph = build_graph([(story, len(units))], engine.stages)
        return actions_for(graph, [resolve(graph, t) for t in sub])

    def _write_outputs(self, sf: StoryFile, result: dict[str, Any], text_digest: str, key: str,
                       parts: dict[str, Any], engine: str,
                       st: FileStat, n_actions: int, n_scenes: int) -> StoryRecord:
        cache = self.cache
        out_dir = self.project.build_dir / sf.name
        old = self.state.stories.get(sf.name)
        outputs: dict[str, str] = {}
        stats: dict[str, FileStat] = {}
        for fname, digest in sorted(result["files"].items()):
            path = out_dir / fname
            current = stat_or_none(path)
            same = False
            if current is not None:
                if old is not None and old.outputs.get(fname) == digest and old.output_stats.get(fname) == current:
                    same = True
                else:
                    try:
                        same = digest_bytes(path.read_bytes()) == digest
                    except OSError:
                        same = False
            if not same:
                data = cache.get_blob(digest)
                if data is None:
                    raise InputError(f"output {fname} missing from the cache; run the build again")
                atomic_write(path, data)
                current = stat_or_none(path)
            outputs[fname] = digest
            assert current is not None
            stats[fname] = current
        if old is not None:
            for fname in sorted(set(old.outputs) - set(outputs)):
                try:
                    (out_dir / fname).unlink()
                except FileNotFoundError:
                    pass
        summary = result["summary"]
        counts = {"actions": n_actions, "scenes": n_scenes, "errors": int(summary.get("errors", 0)),
                  "warnings": int(summary.get("warnings", 0))}
        return StoryRecord(path=sf.rel_path, stat=st, text_digest=text_digest, story_key=key, engine=engine,
                           status=summary["status"], outputs=outputs, output_stats=stats, counts=counts,
                           parts=parts, lock_entry=dict(result["lock_entry"]))


def _components(spec: Any, engine: str, rules: RuleSet, sel: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    from prodscale.core.keys import components
    return components(spec, engine, rules.digests, sel, inputs)


def _aggregate_record(cache: Any, agg_out: dict[str, Any]) -> dict[str, Any]:
    files = {name: cache.put_blob(data) for name, data in sorted(agg_out["files"].items())}
    return {"files": files, "summary": agg_out["summary"], "diagnostics": agg_out.get("diagnostics", [])}

