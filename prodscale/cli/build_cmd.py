"""``prodscale build``: bring stories (or single targets) up to date, here or as a background job."""

from __future__ import annotations

import os
from typing import Any
from collections.abc import Callable

import click

from prodscale.cli.common import echo_json, is_tty, json_option, open_project, project_option, render_diagnostics
from prodscale.errors import UsageError
from prodscale.exec.options import BuildOptions


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@click.command("build")
@click.argument("targets", nargs=-1)
@click.option("--dry-run", "-n", is_flag=True, help="Say what would run; change nothing.")
@click.option("-k", "--keep-going", is_flag=True, help="Keep building other stories after a failure.")
@click.option("--no-wait", is_flag=True, help="Fail at once if another build holds the project lock.")
@click.option("-v", "--verbose", is_flag=True, help="Also show notes (errors and warnings are always shown).")
@click.option("-q", "--quiet", is_flag=True, help="Show errors only (and the closing line).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Run N actions at once (default: the number of usable cores; at most 4 per usable core).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where actions run: local worker processes, or a dask cluster.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="The dask scheduler to use (with --executor dask); without it, a LocalCluster of -j workers.")
@click.option("--background", is_flag=True,
              help="Start the build as a background job, print its id and return at once (see `prodscale jobs`).")
@click.option("--job-id", default=None, hidden=True)  # set by `--background` for the job's own process
@json_option
@project_option
def command(targets: tuple[str, ...], dry_run: bool, keep_going: bool, no_wait: bool, verbose: bool, quiet: bool,
            jobs: int | None, executor: str, scheduler: str | None, background: bool, job_id: str | None,
            as_json: bool, project_dir: str | None) -> None:
    """Compile TARGETS (default: every story): STORY, STORY:STAGE or STORY#SCENE:STAGE."""
    if scheduler is not None and executor != "dask":
        raise UsageError("--scheduler is for the dask executor", hint="add --executor dask")
    project = open_project(project_dir)
    if background:
        if dry_run or job_id:
            raise UsageError("--background starts a real build; it does not go with --dry-run",
                             hint="run the dry run in the foreground: it is quick")
        args = _job_args(targets, keep_going, no_wait, verbose, jobs, executor, scheduler, quiet)
        from prodscale.exec.jobs import start_background
        new_id = start_background(project, args)
        if as_json:
            echo_json({"job": new_id, "log": f".prodscale/jobs/{new_id}.log"})
        else:
            click.echo(new_id)
            click.echo(f"started job {new_id}; follow it with `prodscale jobs show {new_id}` or "
                       f"`prodscale jobs wait {new_id}` (log: .prodscale/jobs/{new_id}.log)", err=True)
        return
    options = BuildOptions(jobs=jobs or usable_cores(), executor=executor, scheduler=scheduler)
    if job_id is None:
        _build(project, targets, dry_run, keep_going, no_wait, verbose, as_json, options, None, quiet)
        return
    from prodscale.exec.jobs import JobRun
    with JobRun(project, job_id) as run:
        _build(project, targets, dry_run, keep_going, no_wait, verbose, as_json, options, run, quiet)


def _job_args(targets: tuple[str, ...], keep_going: bool, no_wait: bool, verbose: bool, jobs: int | None,
              executor: str, scheduler: str | None, quiet: bool = False) -> list[str]:
    """The arguments of the job's own ``prodscale build`` (targets after ``--``)."""
    args: list[str] = []
    if quiet:
        args.append("--quiet")
    if keep_going:
        args.append("--keep-going")
    if no_wait:
        args.append("--no-wait")
    if verbose:
        args.append("--verbose")
    if jobs is not None:
        args += ["--jobs", str(jobs)]
    if executor != "local":
        args += ["--executor", executor]
    if scheduler is not None:
        args += ["--scheduler", scheduler]
    if targets:
        args += ["--", *targets]
    return args


def _build(project: Any, targets: tuple[str, ...], dry_run: bool, keep_going: bool, no_wait: bool, verbose: bool,
           as_json: bool, options: BuildOptions, run: Any, quiet: bool = False) -> None:
    from prodscale.cli.progress import close, make_progress

    display = make_progress(is_tty() and not as_json and run is None)
    sinks = [s for s in (display, run.progress if run is not None else None) if s is not None]
    on_progress: Callable[[Any], None] | None = None
    if len(sinks) == 1:
        on_progress = sinks[0]
    elif sinks:
        def on_progress(event: Any) -> None:
            for sink in sinks:
                sink(event)
    from prodscale.exec.builder import Builder
    builder = Builder(project, options, on_progress=on_progress)
    try:
        report = builder.build(list(targets), dry_run=dry_run, keep_going=keep_going, wait=not no_wait)
    finally:
        close(display)
    for outcome in report.stories.values():
        c = outcome.counts
        # --json lists every finding; on a terminal only what this build compiled is shown in full
        # (an up-to-date story's findings are summarised: `prodscale diagnostics` lists them)
        if as_json or (outcome.fresh and (verbose or c.get("errors") or c.get("warnings"))):
            builder.replay_diagnostics(outcome)
    if as_json:
        echo_json(report.to_json())
    else:
        _render(report, dry_run, verbose, quiet)
    if run is not None:
        for target in report.executed:  # the job log says what this attempt ran
            click.echo(f"ran {target}")
        data = report.to_json()
        run.end(report.exit_code, {"executed": len(report.executed), "cached": report.cached,
                                   "failed": data["failed"], "errors": data["errors"],
                                   "stories": {n: s["status"] for n, s in data["stories"].items()},
                                   "seconds": data["seconds"]})
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)


def _render(report: Any, dry_run: bool, verbose: bool, quiet: bool = False) -> None:
    """Findings of the stories this build compiled in full, then one line per compiled story, a line for
    the up-to-date ones, a per-code summary of every story's findings, and the closing line; ``quiet``
    keeps errors only."""
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    for _name, outcome in sorted(report.stories.items()):
        shown = [d for d in outcome.diagnostics
                 if (d.get("severity") == "error" if quiet else verbose or d.get("severity") != "note")]
        if shown:
            click.echo(render_diagnostics(outcome.rel_path, shown, outcome.text), err=True)
            click.echo("", err=True)
    for err in report.errors:
        click.echo(err.render(), err=True)
    if dry_run:
        for target in report.would_run:
            click.echo(f"would run {target}")
        click.echo(f"{len(report.would_run)} action(s) would run, {report.cached} cached")
        return
    up_to_date: dict[str, int] = {}
    for name, outcome in sorted(report.stories.items()):
        c = outcome.counts
        if not outcome.fresh and outcome.status in ("complete", "blocked", "failed") and \
                (outcome.status == "complete" or quiet):
            up_to_date[outcome.status] = up_to_date.get(outcome.status, 0) + 1
            continue   # named only when it needs attention (blocked or failed)
        if quiet and not c.get("errors") and outcome.status not in ("failed", "error"):
            continue
        extra = ""
        if c.get("errors") or c.get("warnings"):
            extra = f" ({c.get('errors', 0)} error(s), {c.get('warnings', 0)} warning(s);" \
                    f" see build/{name}/diagnostics.json)"
        click.echo(f"{name}: {outcome.status}{'' if outcome.fresh else ' (up to date)'}{extra}")
    if up_to_date:
        n = sum(up_to_date.values())
        click.echo(f"{n} stor{'y' if n == 1 else 'ies'} up to date ("
                   + ", ".join(f"{v} {k}" for k, v in sorted(up_to_date.items())) + ")")
    summary = code_summary(report.stories.values(), quiet)
    if summary:
        click.echo(summary, err=True)
    for name in report.removed:
        click.echo(f"{name}: removed (story deleted)")
    click.echo(f"{len(report.executed)} action(s) executed, {report.cached} cached, "
               f"{len(report.failed)} failed in {report.seconds:.2f}s")


def code_summary(outcomes: Any, errors_only: bool = False) -> str:
    """``errors: PS101 x2 (1 story); warnings: PS406 x12 (3 stories), ...`` over every story's findings
    (each story's per-code counts, recorded when it compiled), with where to read them."""
    totals: dict[str, list[int]] = {}
    for outcome in outcomes:
        for key, n in outcome.codes.items():
            t = totals.setdefault(key, [0, 0])
            t[0] += n
            t[1] += 1
    parts = []
    for sev, label in (("E", "errors"), ("W", "warnings")):
        if sev == "W" and errors_only:
            continue
        items = sorted(((k[2:], v) for k, v in totals.items() if k.startswith(sev + ":")),
                       key=lambda kv: (-kv[1][0], kv[0]))
        if items:
            parts.append(f"{label}: " + ", ".join(f"{code} x{n} ({s} stor{'y' if s == 1 else 'ies'})"
                                                for code, (n, s) in items))
    if not parts:
        return ""
    return "; ".join(parts) + " (`prodscale diagnostics [--code PS###]` lists them; `prodscale explain PS###`)"
