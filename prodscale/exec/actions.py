"""Running actions against the cache: the part of a build that workers do.

A task is usually one whole story (its scenes' stage chains, its aggregation and its commit); a
long story is split into chunks of scenes plus an aggregation task.
Tasks are plain functions over picklable arguments, so the same code runs inline (``-j 1``), in a
local process pool or on Dask workers; each process opens the project's cache once. A task
returns what it did as data (executed targets, hits, log entries, output digests); the parent
merges results in story and scene order, so nothing depends on which worker finished first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, cast
from collections.abc import Callable

import orjson

from prodscale.core import engines as engines_mod
from prodscale.core.canon import canonical_json, digest_bytes, digest_obj
from prodscale.core.keys import action_key, components
from prodscale.core.settings import Settings
from prodscale.core.targets import scene_target, story_target
from prodscale.exec.commit import CommitSpec, Committed, prepare_commit, write_commit
from prodscale.storage.cache import CacheDamaged

AGGREGATE = "aggregate"
# the aggregation's run(story, scenes, rules, settings): declared in a StageSpec, whose run is typed as a stage's
AggregateFn = Callable[[dict[str, Any], list[dict[str, Any]], dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class TaskContext:
    """What every task needs besides its own inputs (small; sent with each task)."""

    root: str
    engine: str
    rules_digest: str          # checked by the worker: rule data must not change during a build
    settings_raw: dict[str, Any]
    run_id: str
    at: str
    dry_run: bool = False
    cache_generation: int = 0  # bumped when the build process replaced a damaged cache
    # a preview engine's code digest, part of every action key of that engine: its code still
    # changes between builds, and a stage's VERSION alone would serve outputs of older code
    preview_code: str = ""
    # this build and no other (run_id repeats under SOURCE_DATE_EPOCH): tells a hit on this build's own work
    # from a hit on an earlier build's; kept in the cache record only, never in an output
    build_nonce: str = ""


@dataclass
class TaskResult:
    story: str
    executed: list[str] = field(default_factory=list)
    # (target, action key, executed here) for every action this build computed, or found computed by an
    # earlier task of this same build: the report attributes a shared action to one story, the same one
    # whatever the schedule (see Builder._run_jobs)
    claims: list[tuple[str, str, bool]] = field(default_factory=list)
    would_run: list[str] = field(default_factory=list)
    cached: int = 0
    entries: dict[str, Any] = field(default_factory=dict)
    scenes: list[dict[str, Any]] = field(default_factory=list)   # per scene: index and stage output digests
    aggregate: dict[str, Any] | None = None                     # the aggregation record
    events: list[tuple[str, str, bool]] = field(default_factory=list)  # (target, stage, executed)
    problems: list[str] = field(default_factory=list)
    committed: Committed | None = None                          # the story's commit (manifest, files, log)


class ActionFailed(Exception):
    """A stage raised: a bug in prodscale, reported with its target."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(f"{target}: {message}")
        self.target = target
        self.detail = message

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # raised in a worker, it crosses to the build process pickled: rebuilt from both arguments
        # (the default rebuilds it from its one message and fails, which broke the whole pool)
        return (type(self), (self.target, self.detail))


# one (cache, rules) per process and project; the parent passes its own when running inline
_WORKER: dict[tuple[int, str, int], Any] = {}


class Worker:
    def __init__(self, root: str, cache: Any = None, rule_sets: dict[str, Any] | None = None) -> None:
        from pathlib import Path

        from prodscale.storage.cache import Cache
        self.root = root
        self.cache = cache if cache is not None else Cache(Path(root) / ".prodscale" / "cache", shared=True)
        self.rule_sets: dict[str, Any] = dict(rule_sets or {})

    def rules(self, engine: str) -> Any:
        if engine not in self.rule_sets:
            from prodscale.storage.project import load_rules
            self.rule_sets[engine] = load_rules(engine)
        return self.rule_sets[engine]


def worker_for(ctx: TaskContext) -> Worker:
    key = (os.getpid(), ctx.root, ctx.cache_generation)
    w = _WORKER.get(key)
    if w is None:
        w = _WORKER[key] = Worker(ctx.root)
    return w


def _runner(ctx: TaskContext, worker: Worker, result: TaskResult,
            old: dict[str, Any], rule_texts: dict[str, str]) -> Callable[..., tuple[Any, str | None]]:
    rules = worker.rules(ctx.engine)
    if rules.digest != ctx.rules_digest:
        raise ActionFailed(result.story, f"the rule data of engine {ctx.engine} changed during the build; "
                                         "run the build again")
    settings = Settings(raw=ctx.settings_raw)
    cache = worker.cache
    sel_digests: dict[str, dict[str, str]] = {}  # stage -> setting -> digest, once per task

    def run_action(target: str, spec: Any, input_digests: dict[str, str | None], extra_log: dict[str, Any],
                   call: Callable[[], Any], force: bool = False) -> tuple[Any, str | None]:
        sel = settings.select(spec.settings)
        if spec.name not in sel_digests:
            sel_digests[spec.name] = {k: digest_obj(v) for k, v in sel.items()}
        # a digest not known yet (None) goes into the key as null; such a key is never looked up (usable below)
        comps = components(spec, ctx.engine, rules.digests, sel, cast(dict[str, str], input_digests),
                           sel_digests[spec.name])
        if ctx.preview_code:
            comps["impl"] = f"{comps['impl']}+preview.{ctx.preview_code}"
        akey = action_key(comps)
        usable = not force and all(v is not None for v in input_digests.values())
        got = cache.get_result(akey) if usable else None
        out_obj, out_digest = None, None
        if got is not None and got[1] is not None:  # a record without its output is a miss
            record, blob = got
            out_obj, out_digest = orjson.loads(cast(bytes, blob)), record["out"]
        prev = old.get(target)
        if out_digest is not None:
            result.cached += 1
            if ctx.build_nonce and record.get("build") == ctx.build_nonce:   # computed by another task of this build
                result.claims.append((target, akey, False))
            result.events.append((target, spec.name, False))
            entry = {"key": akey, "components": comps, "status": "cached", "run": record.get("run"),
                     "at": record.get("at"), "out": out_digest, **extra_log}
            if prev is not None and prev.get("key") == akey:
                entry["prev"] = prev.get("prev")
            result.entries[target] = entry
            return out_obj, out_digest
        if ctx.dry_run:
            result.would_run.append(target)
            result.entries[target] = {"key": akey, "components": comps, "status": "would-run", **extra_log}
            return None, None
        try:
            out_obj = call()
        except CacheDamaged:
            raise  # not the stage's fault: the build process heals the cache and re-runs
        except Exception as exc:  # a stage bug: report it with the target, never crash the build
            raise ActionFailed(target, f"{type(exc).__name__}: {exc}") from exc
        # floats are refused where outputs become files (pretty_json) and in every key
        blob = canonical_json(out_obj, check=False)
        out_digest = digest_bytes(blob)
        cache.put_action(akey, {"out": out_digest, "target": target, "run": ctx.run_id, "at": ctx.at,
                                "build": ctx.build_nonce}, blob)
        result.executed.append(target)
        result.claims.append((target, akey, True))
        result.events.append((target, spec.name, True))
        entry = {"key": akey, "components": comps, "status": "executed", "run": ctx.run_id, "at": ctx.at,
                 "out": out_digest, "rule_texts": {f: rule_texts.get(f) for f in spec.rule_files}, **extra_log}
        if prev is not None and prev.get("key") != akey:
            entry["prev"] = {k: prev.get(k) for k in ("components", "source", "run", "at", "rule_texts", "out")}
        result.entries[target] = entry
        return out_obj, out_digest

    return run_action


class _Task:
    """What both kinds of task set up: the worker (cache, rules), the engine, settings, the result
    being filled and the action runner writing into it."""

    def __init__(self, ctx: TaskContext, story: str, old: dict[str, Any], rule_texts: dict[str, str],
                 worker: Worker | None) -> None:
        w = worker or worker_for(ctx)
        self.engine = engines_mod.get_engine(ctx.engine)
        self.result = TaskResult(story)
        self.run_action = _runner(ctx, w, self.result, old, rule_texts)
        self.rules = w.rules(ctx.engine)
        self.settings = Settings(raw=ctx.settings_raw)
        self.cache = w.cache


def _run_scenes(t: _Task, story: str, scenes: list[dict[str, Any]], needed: set[str] | None,
                keep: bool) -> list[dict[str, Any]]:
    """Each scene's stage chain (sanitize -> shot_specs -> prompts; src). Returns, per scene, its
    index and stage output digests, and with ``keep`` the output objects too (the story's own
    aggregation then reads them from memory instead of the cache)."""
    engine, result, run_action, rules, settings = t.engine, t.result, t.run_action, t.rules, t.settings
    done: list[dict[str, Any]] = []
    for sc in scenes:
        outputs: dict[str, Any] = {}
        digests: dict[str, str | None] = {}
        keys: dict[str, str] = {}  # stage -> action key, where a long story's aggregation finds the output
        scene_digest = digest_bytes(canonical_json(sc["payload"], check=False))  # parser output: no floats
        source: dict[str, Any] = {"first": sc["first"], "last": sc["last"], "text": sc["text"]}
        for spec in engine.stages:
            target = scene_target(story, sc["index"], spec.name)
            if needed is not None and target not in needed:
                continue
            in_digests: dict[str, str | None] = {}
            in_objs: dict[str, Any] = {}
            for dep in spec.inputs:
                if dep == "scene":
                    in_digests["scene"], in_objs["scene"] = scene_digest, sc["payload"]
                else:
                    in_digests[dep], in_objs[dep] = digests.get(dep), outputs.get(dep)
            rule_data = {f: rules.data[f] for f in spec.rule_files}
            sel = settings.select(spec.settings)
            obj, dig = run_action(target, spec, in_digests, {"source": source},
                                  lambda spec=spec, in_objs=in_objs, rule_data=rule_data, sel=sel:
                                  spec.run(in_objs, rule_data, sel))
            outputs[spec.name], digests[spec.name] = obj, dig
            keys[spec.name] = result.entries[target]["key"]
        row: dict[str, Any] = {"index": sc["index"], "digests": digests, "keys": keys}
        result.scenes.append(row)
        done.append({**row, "outputs": outputs} if keep else row)
    return done


def run_scene_chunk(ctx: TaskContext, story: str, scenes: list[dict[str, Any]], old: dict[str, Any],
                    rule_texts: dict[str, str], needed: set[str] | None, worker: Worker | None = None) -> TaskResult:
    """A chunk of a long story's scenes (the story's aggregation is a task of its own).

    ``scenes``: [{"index", "payload", "first", "last", "text", ...}] where text is the digest of
    the story's text in the content store (stored once per story), so ``why`` can show a diff."""
    t = _Task(ctx, story, old, rule_texts, worker)
    with t.cache.batch():
        _run_scenes(t, story, scenes, needed, keep=False)
    _move_problems(t.cache, t.result)
    return t.result


def _move_problems(cache: Any, result: TaskResult) -> None:
    result.problems.extend(cache.problems)
    cache.problems.clear()


def run_aggregate(ctx: TaskContext, story: str, meta: dict[str, Any], scenes: list[dict[str, Any]],
                  old: dict[str, Any], rule_texts: dict[str, str], commit: CommitSpec | None = None,
                  worker: Worker | None = None) -> TaskResult:
    """A long story's aggregation over its scenes' outputs (loaded from the content store by
    digest), then its commit.

    ``scenes``: [{"index", "line_offset", "heading", "number", "digests": {stage: digest},
    "keys": {stage: action key}}]."""
    t = _Task(ctx, story, old, rule_texts, worker)
    with t.cache.batch():
        finish = _aggregate(t, ctx, story, meta, scenes, commit)
    finish()
    _move_problems(t.cache, t.result)
    return t.result


def run_story(ctx: TaskContext, story: str, meta: dict[str, Any], scenes: list[dict[str, Any]],
              old: dict[str, Any], rule_texts: dict[str, str], needed: set[str] | None,
              commit: CommitSpec | None = None, worker: Worker | None = None) -> TaskResult:
    """A whole story in one task: its scenes, its aggregation (fed from memory) and its commit,
    in one cache transaction. The usual task: one per story keeps every worker busy on a project
    of many stories and sends nothing but the outcome back."""
    t = _Task(ctx, story, old, rule_texts, worker)
    finish: Callable[[], None] = lambda: None
    with t.cache.batch():
        done = _run_scenes(t, story, scenes, needed, keep=True)
        if needed is None or story_target(story, AGGREGATE) in needed:
            by_index = {sc["index"]: sc for sc in scenes}
            rows = [{"index": d["index"], "line_offset": by_index[d["index"]]["line_offset"],
                     "heading": by_index[d["index"]]["heading"], "number": by_index[d["index"]]["number"],
                     "digests": d["digests"], "outputs": d["outputs"]} for d in done]
            finish = _aggregate(t, ctx, story, meta, rows, commit)
    finish()
    t.result.scenes = []  # only a chunk's scene digests feed a later task
    _move_problems(t.cache, t.result)
    return t.result


def _aggregate(t: _Task, ctx: TaskContext, story: str, meta: dict[str, Any], scenes: list[dict[str, Any]],
               commit: CommitSpec | None) -> Callable[[], None]:
    """Run (or find) the story's aggregation and prepare its commit, inside the task's cache
    transaction; returns what writes the files once that transaction is flushed."""
    engine, result, run_action, rules, settings, cache = t.engine, t.result, t.run_action, t.rules, t.settings, t.cache
    agg = engine.aggregate
    target = story_target(story, AGGREGATE)
    digests = {"story": digest_obj(meta),
               "scenes": digest_obj([[s["index"], s["line_offset"], s["heading"], s["number"], s["digests"]]
                                     for s in scenes])}
    fresh: dict[str, bytes] = {}  # the bytes of the files computed in this task

    def compute() -> dict[str, Any]:
        inputs = []
        for s in scenes:
            outs = s.get("outputs") or {}
            if len(outs) != len(s["digests"]) or any(v is None for v in outs.values()):
                outs = {}
                for stage, dig in s["digests"].items():
                    got = cache.get_result(s["keys"][stage])
                    if got is None or got[1] is None or got[0].get("out") != dig:
                        raise CacheDamaged(f"output {str(dig)[:12]} of {story}#{s['index']}:{stage} vanished from "
                                           "the cache")
                    outs[stage] = orjson.loads(got[1])
            inputs.append({"index": s["index"], "line_offset": s["line_offset"], "heading": s["heading"],
                           "number": s["number"], **outs})
        out = cast(AggregateFn, agg.run)(meta, inputs, {f: rules.data[f] for f in agg.rule_files},
                                         settings.select(agg.settings))
        fresh.clear()
        files = {}
        for name, data in sorted(out["files"].items()):
            files[name] = cache.put_blob(data)
            fresh[files[name]] = data
        return {"files": files, "summary": out["summary"], "diagnostics": out.get("diagnostics", [])}

    def recompute() -> tuple[dict[str, Any], dict[str, bytes]]:
        """The record was a hit but a file it names is gone from the content store: run it again."""
        if target in result.executed:
            result.executed.remove(target)
        else:
            result.cached -= 1
        result.claims = [c for c in result.claims if c[0] != target]
        result.events = [e for e in result.events if e[0] != target]
        again, _ = run_action(target, agg, digests, {}, compute, force=True)
        return again, dict(fresh)

    record, _ = run_action(target, agg, digests, {}, compute)
    result.aggregate = record
    if record is None or commit is None or ctx.dry_run:
        return lambda: None
    files = dict(fresh)
    committed = result.committed = prepare_commit(cache, ctx.root, commit, record, files)

    def finish() -> None:
        write_commit(cache, ctx.root, commit, committed, files, recompute, result.entries)
        result.aggregate = committed.record
        if committed.log_saved:
            result.entries = {}  # saved with the story's build log: nothing to send back
    return finish
