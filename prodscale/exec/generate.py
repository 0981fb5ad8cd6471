"""Generation: send ready prompts to a provider, paying each clip at most once.

The life of one clip (its idempotency key is the hash of its canonical request):

1. ``reserve``: in one ledger transaction, skip it if it is completed, failed or held by a live
   run; refuse it if the available credits (balance - reservations) or ``--max-cost`` cannot
   cover the estimate; else hold the estimate. Nothing has left the machine yet.
2. ``submit`` with the ``Idempotency-Key`` header (retried within the retry policy).
3. ``mark_submitted`` with the provider's job id, then poll until the job is done.
4. ``capture`` the provider's actual cost (or ``refund`` a failure the provider does not bill),
   fetch the result into ``build/<story>/generated/`` and list it in ``build/<story>/generation.json``.

A crash anywhere leaves a row ``reserved`` or ``submitted`` owned by a dead run. Every run starts
by reconciling those rows with the provider: it asks by job id or by key, polls a job it finds
to its end, and releases the hold of a request the provider never got. A clip in flight is
polled, never resubmitted; and were it resubmitted, the provider would answer with the same job.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from collections.abc import Callable

from prodscale.core.canon import pretty_json
from prodscale.core.generation import (ProviderConfig, canonical_request, checked_cost, estimate_cost,
                                       idempotency_key, is_charged_failure, legacy_idempotency_key,
                                       provider_identity, request_body)
from prodscale.errors import ProviderError, UsageError
from prodscale.providers.http_client import CallFailed, HttpProvider
from prodscale.storage.filelock import FileLock
from prodscale.storage.fs import atomic_write
from prodscale.storage.ledger import Ledger, RunToken

TERMINAL = ("succeeded", "failed")
GENERATION_FILE = "generation.json"
OUTPUT_DIR = "generated"


@dataclass(frozen=True)
class Clip:
    story: str
    clip_id: str
    request: dict[str, Any]
    key: str
    estimate: int
    #: seconds of the clip that are on screen (engine 2.0.0's ``content_ms``); None where the engine does not say
    screen_ms: int | None = None
    #: the key a schema-1 ledger knew this request by (no provider identity); see :func:`resolve_keys`
    legacy_key: str = ""


@dataclass
class Result:
    story: str
    clip_id: str
    key: str
    outcome: str   # completed | already | failed | refused | over-cap | elsewhere | in-flight | released | unsent
    cost: int = 0
    job_id: str | None = None
    output_url: str | None = None
    output_file: str | None = None
    message: str = ""


@dataclass
class Report:
    provider: str
    reconciled: list[Result] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    error: str | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return dict(sorted(out.items()))

    @property
    def ok(self) -> bool:
        return self.error is None and not any(r.outcome in ("failed", "refused", "in-flight", "unsent")
                                              for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "ok": self.ok, "error": self.error, "counts": self.counts(),
                "cost": sum(r.cost for r in self.results if r.outcome == "completed" or r.outcome == "failed"),
                "reconciled": [asdict(r) for r in self.reconciled], "results": [asdict(r) for r in self.results]}


# ---------------------------------------------------------------------- what to send

def safe_name(clip_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", clip_id) or "clip"


def output_name(clip: Clip) -> str:
    """``<clip id>.<key prefix>.json``: clip ids are not unique across a story's scenes, keys are."""
    return f"{safe_name(clip.clip_id)}.{clip.key[:12]}.json"


def clips_from_prompts(story: str, prompts: dict[str, Any], provider: ProviderConfig) -> tuple[list[Clip], list[str]]:
    """The ready clips of one story's prompts.json as requests to ``provider``; notes for the rest."""
    clips: list[Clip] = []
    notes: list[str] = []
    blocked = 0
    identity = provider_identity(provider)
    for c in prompts.get("clips", []):
        if c.get("status") != "ready":
            blocked += 1
            continue
        if provider.profile and c.get("profile") != provider.profile:
            notes.append(f"{story} {c['id']}: compiled for profile {c.get('profile')}, provider "
                         f"{provider.name} takes {provider.profile}; not sent")
            continue
        req = canonical_request(provider, c)
        screen = c.get("content_ms")
        clips.append(Clip(story, str(c["id"]), req, idempotency_key(req, identity),
                          estimate_cost(provider, req["duration_ms"]), int(screen) if isinstance(screen, int) else None,
                          legacy_key=legacy_idempotency_key(req)))
    if blocked:
        notes.append(f"{story}: {blocked} clip(s) blocked by the gates are not sent")
    return clips, notes


def load_clips(project: Any, stories: list[str], provider: ProviderConfig, *,
               check_fresh: bool = True) -> tuple[list[Clip], list[str]]:
    """Ready clips of the named stories (all when none), from build/<story>/prompts.json."""
    files, _errors = project.story_files()
    known = [sf.name for sf in files]
    for s in stories:
        if s not in known:
            raise UsageError(f"no story named '{s}'", hint=f"stories: {', '.join(known) or '(none)'}")
    selected = stories or known
    if check_fresh:
        from prodscale.exec.builder import Builder
        from prodscale.exec.status import story_lines
        # (the prompts do not depend on [providers] or [budget]: those sections are not in a story's key, so
        # editing them never makes a story stale; any reason the planner gives is one not to pay)
        stale = [r for r in story_lines(Builder(project)) if r["story"] in selected and r["state"] != "up-to-date"]
        if stale:
            names = ", ".join(r["story"] for r in stale)
            raise UsageError(f"the prompts of {names} are not up to date with the stories",
                             hint="run `prodscale build` first, so what is paid for is what the screenplay says")
    clips: list[Clip] = []
    notes: list[str] = []
    for s in selected:
        path = project.build_dir / s / "prompts.json"
        try:
            prompts = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise UsageError(f"build/{s}/prompts.json does not exist", hint="run `prodscale build` first") from None
        got, n = clips_from_prompts(s, prompts, provider)
        clips += got
        notes += n
    return clips, notes


def resolve_keys(clips: list[Clip], ledger: Ledger, provider: ProviderConfig, *, adopt: bool) -> list[Clip]:
    """The key each clip goes by: its own, unless a ledger row written before keys named the provider
    holds the request under its legacy key; that key is what the provider was sent, so the clip keeps
    it (an in-flight row is reconciled by it, a completed one is not paid for again). ``adopt`` stamps such
    rows with today's endpoint, once: after that a move to another endpoint sends the clips there."""
    pairs = [(c.key, c.legacy_key) for c in clips if c.legacy_key]
    chosen = ledger.resolve_keys(pairs, provider_identity(provider), adopt=adopt)
    return [replace(c, key=chosen.get(c.key, c.key)) for c in clips]


def estimate(clips: list[Clip], ledger: Ledger) -> dict[str, Any]:
    """Per story and in total: how many clips would be sent, what they would cost, and the seconds billed
    for them beside the seconds of them on screen (``screen_ms`` is None when a clip's engine does not say)."""
    rows = ledger.rows([c.key for c in clips])
    stories: dict[str, dict[str, Any]] = {}  # counts and sums; screen_ms becomes None when a clip does not say
    seen: set[str] = set()
    for c in clips:
        s = stories.setdefault(c.story, {"clips": 0, "to_send": 0, "estimate": 0, "completed": 0, "in_flight": 0,
                                         "failed": 0, "duplicates": 0, "billed_ms": 0, "screen_ms": 0})
        s["clips"] += 1
        state = rows.get(c.key, {}).get("state")
        if c.key in seen:
            s["duplicates"] += 1
        elif state == "completed":
            s["completed"] += 1
        elif state in ("reserved", "submitted"):
            s["in_flight"] += 1
        elif state == "failed":
            s["failed"] += 1
        else:
            s["to_send"] += 1
            s["estimate"] += c.estimate
            s["billed_ms"] += int(c.request["duration_ms"])
            if s["screen_ms"] is not None:
                s["screen_ms"] = None if c.screen_ms is None else s["screen_ms"] + c.screen_ms
        seen.add(c.key)
    credits = ledger.summary()
    total = sum(s["estimate"] for s in stories.values())
    screens = [s["screen_ms"] for s in stories.values()]
    return {"stories": stories, "total": total, "to_send": sum(s["to_send"] for s in stories.values()),
            "billed_ms": sum(s["billed_ms"] for s in stories.values()),
            "screen_ms": None if None in screens else sum(screens),
            "available": credits["available"], "covered": total <= credits["available"]}


# ---------------------------------------------------------------------- the run

class Generator:
    def __init__(self, provider: ProviderConfig, client: HttpProvider, ledger: Ledger, token: RunToken, *,
                 build_dir: Path, jobs: int = 1, max_cost: int | None = None,
                 sleep: Callable[[float], None] = time.sleep, on_result: Callable[[Result], None] | None = None,
                 money: Callable[[int], str] = str) -> None:
        self.provider = provider
        self.client = client
        self.ledger = ledger
        self.token = token
        self.build_dir = Path(build_dir)
        self.jobs = max(1, min(jobs, provider.max_concurrency))
        self.max_cost = max_cost
        self._sleep = sleep
        self._on_result = on_result
        self._money = money
        self._stop = threading.Event()
        self._error: str | None = None
        self._budget_out: str | None = None

    # -------------------------------------------------------------- entry points

    def run(self, clips: list[Clip]) -> Report:
        report = Report(self.provider.name)
        report.reconciled = self.reconcile()
        seen: set[str] = set()
        unique: list[Clip] = []
        for c in clips:  # the same canonical request twice in a selection is one request
            if c.key not in seen:
                seen.add(c.key)
                unique.append(c)
        by_key = {c.key: c for c in unique}
        if self.jobs == 1:
            results = [self._one(c) for c in unique]
        else:
            with ThreadPoolExecutor(self.jobs, thread_name_prefix="generate") as pool:
                results = list(pool.map(self._one, unique))
        dup = [Result(c.story, c.clip_id, c.key, "already", message="same request as another clip")
               for c in clips if by_key[c.key] is not c]
        report.results = results + dup
        report.error = self._error
        self.write_outputs(clips)
        return report

    def reconcile(self) -> list[Result]:
        """Settle every in-flight request of this provider whose run is gone, before anything else."""
        out: list[Result] = []
        for row in self.ledger.in_flight():
            if row["provider"] != self.provider.name:
                continue
            claimed = self.ledger.claim(row["key"], self.token.id, self.token.is_alive)
            if claimed is None:
                continue
            clip = Clip(row["story"], row["clip"], {}, row["key"], row["estimate"])
            out.append(self._resume(clip, claimed))
        return out

    # -------------------------------------------------------------- one clip

    def _one(self, clip: Clip) -> Result:
        if self._stop.is_set():
            return Result(clip.story, clip.clip_id, clip.key, "unsent", message=self._error or "")
        if self._budget_out is not None:  # in order: nothing after the first clip the money cannot cover
            return Result(clip.story, clip.clip_id, clip.key, self._budget_out, message="after an earlier clip")
        try:
            res = self.ledger.reserve(clip.key, provider=self.provider.name, model=self.provider.model,
                                      endpoint=provider_identity(self.provider),
                                      story=clip.story, clip=clip.clip_id, duration_ms=clip.request["duration_ms"],
                                      estimate=clip.estimate, owner=self.token.id, is_alive=self.token.is_alive,
                                      run_cap=self.max_cost)
            if res.outcome == "reserved":
                result = self._send(clip)
            elif res.outcome == "resume":
                assert res.row is not None
                result = self._resume(clip, res.row)
            elif res.outcome == "done":
                assert res.row is not None
                result = self._result(clip, res.row, "already")
                if not res.row.get("output_file") or not (self.build_dir.parent / res.row["output_file"]).is_file():
                    result.output_file = self._fetch(clip, res.row.get("output_url"))
            elif res.outcome == "failed":
                assert res.row is not None
                result = self._result(clip, res.row, "failed", f"failed earlier: {res.row.get('error_code')}; "
                                      "a changed prompt or seed is a new request")
                result.cost = 0  # charged (if at all) in the run that failed it
            elif res.outcome == "elsewhere":
                result = Result(clip.story, clip.clip_id, clip.key, "elsewhere",
                                 message="in flight in another generate run")
            elif res.outcome == "insufficient":
                self._budget_out = "refused"
                result = Result(clip.story, clip.clip_id, clip.key, "refused",
                                message=f"needs {self._money(clip.estimate)}, available {self._money(res.available)}")
            else:
                self._budget_out = "over-cap"
                result = Result(clip.story, clip.clip_id, clip.key, "over-cap",
                                message=f"needs {self._money(clip.estimate)}, "
                                        f"left under --max-cost {self._money(max(0, res.available))}")
        except ProviderError as err:
            self._abort(err)
            result = Result(clip.story, clip.clip_id, clip.key, "unsent", message=err.message)
        if self._on_result is not None:
            self._on_result(result)
        return result

    def _abort(self, err: ProviderError) -> None:
        if self._error is None:
            self._error = err.message
        self._stop.set()

    def _send(self, clip: Clip) -> Result:
        try:
            job = self.client.submit(clip.key, request_body(clip.request))
        except ProviderError:
            self.ledger.release(clip.key, "not sent: the provider refused the API key")
            raise
        except CallFailed as exc:
            if exc.maybe_sent and not exc.final:
                # the provider may hold it: keep the credits reserved; reconciliation asks by key
                self.ledger.mark_submitted(clip.key, None)
                return Result(clip.story, clip.clip_id, clip.key, "in-flight", message=exc.message)
            if exc.final and exc.status not in (409, 429):
                self.ledger.refund(clip.key, error_code=exc.code or f"http_{exc.status}", error=exc.message)
                return Result(clip.story, clip.clip_id, clip.key, "failed", message=exc.message)
            self.ledger.release(clip.key, f"not sent: {exc.message}")
            if not exc.maybe_sent and exc.status is None:
                self._abort(ProviderError(f"provider '{self.provider.name}' is unreachable: {exc.message}"))
            return Result(clip.story, clip.clip_id, clip.key, "unsent", message=exc.message)
        self.ledger.mark_submitted(clip.key, str(job.get("id")))
        return self._settle(clip, job)

    def _resume(self, clip: Clip, row: dict[str, Any]) -> Result:
        """An in-flight request: find it at the provider and settle it; never resubmit it."""
        job: dict[str, Any] | None = None
        try:
            if row.get("job_id"):
                try:
                    job = self.client.get_job(row["job_id"], clip.key)
                except CallFailed as exc:
                    if exc.status != 404:
                        raise
            if job is None:
                job = self.client.find(clip.key)
        except CallFailed as exc:
            return Result(clip.story, clip.clip_id, clip.key, "in-flight", job_id=row.get("job_id"),
                          message=f"could not reconcile yet: {exc.message}")
        if job is None:
            self.ledger.release(clip.key, "reconciled: the provider never received it")
            return Result(clip.story, clip.clip_id, clip.key, "released",
                          message="the provider never received it; the hold was returned")
        self.ledger.mark_submitted(clip.key, str(job.get("id")))
        return self._settle(clip, job)

    def _settle(self, clip: Clip, job: dict[str, Any]) -> Result:
        job_id = str(job.get("id"))
        policy = self.provider.retry
        deadline = time.monotonic() + policy.poll_timeout_ms / 1000
        while job.get("status") not in TERMINAL:
            if time.monotonic() > deadline:
                return Result(clip.story, clip.clip_id, clip.key, "in-flight", job_id=job_id,
                              message=f"still {job.get('status')} after {policy.poll_timeout_ms} ms; "
                                      "the next run polls it")
            self._sleep(policy.poll_interval_ms / 1000)
            try:
                job = self.client.get_job(job_id, clip.key)
            except CallFailed as exc:
                if exc.final:
                    return Result(clip.story, clip.clip_id, clip.key, "in-flight", job_id=job_id,
                                  message=f"cannot poll: {exc.message}")
        if job["status"] == "succeeded":
            cost, problem = checked_cost(job.get("cost"), clip.estimate)
            if cost is None:   # never booked silently: the hold stays, the row says why
                self.ledger.hold_for_review(clip.key, job_id=job_id, reason=str(problem))
                return Result(clip.story, clip.clip_id, clip.key, "in-flight", job_id=job_id,
                              message=f"held for review: {problem}; nothing was booked")
            output = job.get("output")
            url = output.get("url") if isinstance(output, dict) and isinstance(output.get("url"), str) else None
            self.ledger.capture(clip.key, cost, job_id=job_id, output_url=url)
            row = self.ledger.get(clip.key) or {}
            result = self._result(clip, row, "completed")
            result.output_file = self._fetch(clip, url)
            return result
        raw_error = job.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        code = str(error.get("code") or "unknown")
        message = str(error.get("message") or "")[:200]
        if is_charged_failure(self.provider, code):
            cost, problem = checked_cost(job.get("cost") or None, clip.estimate)
            if cost is None:
                self.ledger.hold_for_review(clip.key, job_id=job_id, reason=str(problem))
                return Result(clip.story, clip.clip_id, clip.key, "in-flight", job_id=job_id,
                              message=f"held for review: {problem}; nothing was booked")
            self.ledger.capture(clip.key, cost, job_id=job_id, output_url=None, state="failed",
                                error_code=code, error=message)
        else:
            self.ledger.refund(clip.key, error_code=code, error=message, job_id=job_id)
        row = self.ledger.get(clip.key) or {}
        return self._result(clip, row, "failed", f"{code}: {message}")

    def _fetch(self, clip: Clip, url: str | None) -> str | None:
        if not url or not clip.story:
            return None
        rel = f"{self.build_dir.name}/{clip.story}/{OUTPUT_DIR}/{output_name(clip)}"
        try:
            self.client.fetch_to(url, clip.key, self.build_dir.parent / rel)
        except CallFailed:
            return None  # recorded as completed; the next run fetches it again, never resubmits
        self.ledger.set_output_file(clip.key, rel)
        return rel

    @staticmethod
    def _result(clip: Clip, row: dict[str, Any], outcome: str, message: str = "") -> Result:
        return Result(clip.story, clip.clip_id, clip.key, outcome, cost=int(row.get("cost") or 0),
                      job_id=row.get("job_id"), output_url=row.get("output_url"), output_file=row.get("output_file"),
                      message=message)

    # -------------------------------------------------------------- outputs

    def write_outputs(self, clips: list[Clip]) -> None:
        """Rewrite build/<story>/generation.json from the ledger (this provider's entries)."""
        rows = self.ledger.rows([c.key for c in clips])
        by_story: dict[str, list[Clip]] = {}
        for c in clips:
            by_story.setdefault(c.story, []).append(c)
        with FileLock(self.token.dir.parent / "generation.lock"):
            for story, story_clips in sorted(by_story.items()):
                write_generation_json(self.build_dir / story / GENERATION_FILE, story, self.provider.name,
                                      story_clips, rows)


def write_generation_json(path: Path, story: str, provider: str, clips: list[Clip],
                          rows: dict[str, dict[str, Any]]) -> None:
    try:
        old = json.loads(path.read_bytes())
        kept = [e for e in old.get("clips", []) if e.get("provider") != provider]
    except (FileNotFoundError, ValueError, AttributeError):
        kept = []
    entries = list(kept)
    for c in clips:
        row = rows.get(c.key)
        if row is None:
            continue
        entries.append({"id": c.clip_id, "provider": provider, "key": c.key, "state": row["state"],
                        "job_id": row.get("job_id"), "cost": int(row.get("cost") or 0),
                        "reserved": int(row.get("reserved") or 0), "output_url": row.get("output_url"),
                        "output_file": row.get("output_file"), "error_code": row.get("error_code")})
    entries.sort(key=lambda e: (str(e.get("provider")), str(e.get("id"))))
    totals: dict[str, dict[str, int]] = {}
    for e in entries:
        t = totals.setdefault(str(e.get("provider")), {"completed": 0, "failed": 0, "in_flight": 0, "cost": 0})
        state = e.get("state")
        if state == "completed":
            t["completed"] += 1
        elif state == "failed":
            t["failed"] += 1
        elif state in ("reserved", "submitted"):
            t["in_flight"] += 1
        t["cost"] += int(e.get("cost") or 0)
    atomic_write(path, pretty_json({"story": story, "clips": entries, "totals": totals}))


def open_client(provider: ProviderConfig, **kwargs: Any) -> HttpProvider:
    return HttpProvider.from_env(provider, **kwargs)
