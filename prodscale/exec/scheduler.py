"""Feeding a build's stale stories to an executor, and merging what comes back in a fixed order.

A story is one task (``run_story``) unless it is long: then its scene chunks run as soon as it is
parsed and its aggregation is submitted as soon as its last chunk is in. The task that aggregates a
story also writes its files and build log; the builder records each finished story (state, lock
entry). At most a few stories per worker are in flight, which bounds memory. A cache damaged under
running work is healed once and what was in flight runs again, in this process.

The results are merged in story order whatever finished first, so ``executed`` is the same list for
every ``-j`` and executor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prodscale.core.targets import story_target
from prodscale.errors import InputError, IntegrityError
from prodscale.exec.actions import AGGREGATE, ActionFailed, run_aggregate, run_scene_chunk, run_story
from prodscale.exec.executors import Executor, InlineExecutor
from prodscale.storage.cache import CacheDamaged

if TYPE_CHECKING:
    from prodscale.exec.builder import Builder, BuildReport, StoryJob

# a finished story: (name, its action claims (target, key, ran here), the targets a dry run would run)
Finished = tuple[str, list[tuple[str, str, bool]], list[str]]


class Scheduler:
    def __init__(self, builder: Builder, executor: Executor, report: BuildReport, *, keep_going: bool,
                 stopped: list[bool] | None = None) -> None:
        self.builder = builder
        self.executor = executor
        self.report = report
        self.keep_going = keep_going
        self.stopped = stopped if stopped is not None else [False]   # shared with the caller: a stop is seen there
        self.pending: dict[Any, tuple[StoryJob, str, int]] = {}       # future -> (job, task kind, chunk index)
        self.active: dict[str, StoryJob] = {}
        self.finished: list[Finished] = []
        self.retry: list[StoryJob] = []   # jobs whose work was lost with a damaged cache: re-run inline
        self.limit = max(2, 3 * executor.workers)
        self.planned = [0, 0]             # stories, actions (for the progress display)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, jobs: Iterable[StoryJob]) -> None:
        b = self.builder
        try:
            for job in jobs:
                if self.stopped[0]:
                    break
                if b.cache_generation:
                    job.restart(b.cache_generation)
                self.submit_story(job)
                self.harvest(block=False)
                while len(self.active) >= self.limit and self.pending:
                    self.harvest(block=True)
            while self.pending:
                self.harvest(block=True)
            if self.retry:
                self._run_retries()
        finally:
            self._merge()

    def _run_retries(self) -> None:
        b = self.builder
        again = sorted(self.retry, key=lambda j: j.sf.name)
        self.retry.clear()
        if b.cache_generation > 3:
            for job in again:
                b._task_failed(job, self.report, job.sf.name, "the cache keeps getting damaged during the "
                               "build; check the disk, then run the build again", True, self.stopped)
                self.finished.append(job.done_record())
            return
        for job in again:
            job.restart(b.cache_generation)
        # in this process, into this report; its own merge adds its stories (ours were not finished here)
        Scheduler(b, InlineExecutor(), self.report, keep_going=self.keep_going, stopped=self.stopped).run(iter(again))

    def _merge(self) -> None:
        """Merge in story order: the same executed list whatever finished first. Two stories that share an
        identical scene share its action key: run at once by two workers it executes twice, one after the
        other the second is a cache hit; it counts once, for the first story, either way."""
        report = self.report
        seen: set[str] = set()
        for _, claims, would_run in sorted(self.finished, key=lambda rec: rec[0]):
            for target, key, ran_here in claims:
                if key in seen:   # a later story's share of an action already counted
                    report.cached += 1 if ran_here else 0
                    continue
                seen.add(key)
                report.executed.append(target)
                if not ran_here:   # computed by another task of this build: executed here, not a hit
                    report.cached -= 1
            report.would_run.extend(would_run)

    # -- submitting ----------------------------------------------------------------------------
    def submit_story(self, job: StoryJob) -> None:
        b = self.builder
        self.active[job.sf.name] = job
        self.planned[0] += 1
        self.planned[1] += job.n_actions
        b._emit({"event": "plan", "stories": self.planned[0], "actions": self.planned[1]})
        if job.single:
            self._submit(job, "story", 0, run_story, job.ctx, job.sf.name, job.meta,
                         job.chunks[0] if job.chunks else [], job.old_targets, job.rule_texts, job.needed,
                         b._commit_spec(job, {}))
            return
        if not job.chunks:
            self._submit_aggregate(job)
        for i, chunk in enumerate(job.chunks):
            if not self._submit(job, "chunk", i, run_scene_chunk, job.ctx, job.sf.name, chunk, job.old_for(chunk),
                                job.rule_texts, job.needed):
                return

    def _submit(self, job: StoryJob, kind: str, i: int, fn: Any, *args: Any) -> bool:
        try:
            fut = self.executor.submit(fn, *args, **job.inline(self.executor, self.builder))
        except Exception as exc:  # the pool broke (a worker was killed): report, stop feeding it
            self.builder._task_failed(job, self.report, job.sf.name, f"a worker failed ({type(exc).__name__}: "
                                      f"{exc}); run the build again: finished work is kept", False, self.stopped)
            if not self._in_flight(job):
                self._finish(job)
            return False
        self.pending[fut] = (job, kind, i)
        return True

    def _submit_aggregate(self, job: StoryJob) -> None:
        if job.needed is not None and story_target(job.sf.name, AGGREGATE) not in job.needed:
            self._finish(job)
            return
        scenes = [{"index": u.index, "line_offset": u.line_offset, "heading": u.heading, "number": u.number,
                   "digests": job.digests[u.index], "keys": job.keys[u.index]} for u in job.units]
        old = {k: v for k, v in job.old_targets.items() if k == story_target(job.sf.name, AGGREGATE)}
        computed: dict[str, Any] = {}
        for r in job.chunk_results:
            if r is not None:
                computed.update(r.entries)
        self._submit(job, "aggregate", 0, run_aggregate, job.ctx, job.sf.name, job.meta, scenes, old, job.rule_texts,
                     self.builder._commit_spec(job, computed))

    def _in_flight(self, job: StoryJob) -> bool:
        return any(j is job for j, _, _ in self.pending.values())

    # -- what comes back -----------------------------------------------------------------------
    def _damaged(self, job: StoryJob, reason: str) -> None:
        """The cache was damaged under running work: heal it once, re-run what was in flight."""
        b = self.builder
        if job.generation == b.cache_generation:
            b.cache.heal(reason)
            b.cache_generation += 1
            b._stored_texts.clear()
            for version in sorted({j.engine for j in self.active.values()} | {job.engine}):
                b._store_texts(version)
        for other in list(self.active.values()):
            if other not in self.retry:
                self.retry.append(other)
            self.active.pop(other.sf.name, None)

    def _finish(self, job: StoryJob) -> None:
        b, report = self.builder, self.report
        self.active.pop(job.sf.name, None)
        if not job.failed:
            try:
                b._finalize(job, report)
            except CacheDamaged as exc:
                self.active[job.sf.name] = job
                self._damaged(job, str(exc))
                return
            except (InputError, IntegrityError) as err:
                job.failed = True
                b._story_error(job.sf, report, err)
                if not self.keep_going:
                    self.stopped[0] = True
        self.finished.append(job.done_record())
        if not job.failed:
            outcome = report.stories.get(job.sf.name)
            b._emit({"event": "story", "story": job.sf.name, "status": outcome.status if outcome else "?"})

    def harvest(self, block: bool) -> None:
        b, report, pending = self.builder, self.report, self.pending
        done = self.executor.wait_any(pending) if block else {f for f in pending if f.done()}
        for fut in sorted(done, key=lambda f: (pending[f][0].sf.name, pending[f][1], pending[f][2])):
            job, kind, i = pending.pop(fut)
            if job in self.retry or job.generation != b.cache_generation:
                continue  # its results went to a cache that has since been replaced
            try:
                res = fut.result()
            except CacheDamaged as exc:
                self._damaged(job, str(exc))
                continue
            except ActionFailed as exc:
                b._task_failed(job, report, exc.target, str(exc), self.keep_going, self.stopped)
                res = None
            except Exception as exc:  # a worker died (BrokenProcessPool) or the backend failed
                self._worker_failed(job, exc)
                res = None
            if res is not None:
                for target, stage, executed in res.events:
                    b._emit({"event": "action", "target": target, "stage": stage, "executed": executed})
                report.problems.extend(res.problems)
                report.cached += res.cached
            if job.failed:
                if not self._in_flight(job):
                    self._finish(job)
                continue
            assert res is not None
            if kind == "chunk":
                job.chunk_results[i] = res
                for sc in res.scenes:
                    job.digests[sc["index"]] = sc["digests"]
                    job.keys[sc["index"]] = sc["keys"]
                if all(r is not None for r in job.chunk_results):
                    self._submit_aggregate(job)
            else:  # the aggregation, or a whole story
                job.agg_result = res
                self._finish(job)

    def _worker_failed(self, job: StoryJob, exc: Exception) -> None:
        b = self.builder
        if isinstance(exc, OSError) and exc.filename:  # the task could not write an output
            b._task_failed(job, self.report, job.sf.name, f"cannot write {b._shown(exc.filename)}: "
                           f"{exc.strerror or exc}", self.keep_going, self.stopped,
                           hint="free disk space or fix the folder, then run the build again: finished work is kept")
        else:
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            b._task_failed(job, self.report, f"{job.sf.name}", f"a worker failed ({what}); "
                           "run the build again: finished work is kept", self.keep_going, self.stopped)
