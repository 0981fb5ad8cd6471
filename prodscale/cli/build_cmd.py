"""``prodscale build``: bring stories (or single targets) up to date, here or as a background job."""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable

import click

from prodscale.cli.common import echo_json, is_tty, json_option, open_project, project_option, render_diagnostics
from prodscale.errors import UsageError


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
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Run N actions at once (default: the number of usable cores).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where actions run: local worker processes, or a dask cluster.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="The dask scheduler to use (with --executor dask).")
@click.option("--background", is_flag=True,
              help="Start the build as a background job, print its id and return at once (see `prodscale jobs`).")
@click.option("--job-id", default=None, hidden=True)  # set by `--background` for the job's own process
@json_option
@project_option
def command(targets: tuple[str, ...], dry_run: bool, keep_going: bool, no_wait: bool, verbose: bool,
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
        args = _job_args(targets, keep_going, no_wait, verbose, jobs, executor, scheduler)
        from prodscale.exec.jobs import start_background
        new_id = start_background(project, args)
        if as_json:
            echo_json({"job": new_id, "log": f".prodscale/jobs/{new_id}.log"})
        else:
            click.echo(new_id)
            click.echo(f"started job {new_id}; follow it with `prodscale jobs show {new_id}` or "
                       f"`prodscale jobs wait {new_id}` (log: .prodscale/jobs/{new_id}.log)", err=True)
        return
    options = {"jobs": jobs or usable_cores(), "executor": executor, "scheduler": scheduler}
    if job_id is None:
        _build(project, targets, dry_run, keep_going, no_wait, verbose, as_json, options, None)
        return
    from prodscale.exec.jobs import JobRun
    with JobRun(project, job_id) as run:
        _build(project, targets, dry_run, keep_going, no_wait, verbose, as_json, options, run)


def _job_args(targets: tuple[str, ...], keep_going: bool, no_wait: bool, verbose: bool, jobs: int | None,
              executor: str, scheduler: str | None) -> list[str]:
    """The arguments of the job's own ``prodscale build`` (targets after ``--``)."""
    args: list[str] = []
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


def make_builder(project: Any, on_progress: Callable[[Any], None] | None, options: dict[str, Any]) -> Any:
    from prodscale.exec.builder import Builder
    params = inspect.signature(Builder).parameters
    if all(name in params for name in options):
        return Builder(project, on_progress=on_progress, **options)
    # a Builder without the parallel options yet: build serially with the local executor
    if options.get("executor") != "local":
        raise UsageError(f"the {options['executor']} executor is not available in this prodscale")
    return Builder(project, on_progress=on_progress)


def _build(project: Any, targets: tuple[str, ...], dry_run: bool, keep_going: bool, no_wait: bool, verbose: bool,
           as_json: bool, options: dict[str, Any], run: Any) -> None:
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
    builder = make_builder(project, on_progress, options)
    try:
        report = builder.build(list(targets), dry_run=dry_run, keep_going=keep_going, wait=not no_wait)
    finally:
        close(display)
    for outcome in report.stories.values():
        c = outcome.counts
        if as_json or verbose or c.get("errors") or c.get("warnings"):
            builder.replay_diagnostics(outcome)
    if as_json:
        echo_json(report.to_json())
    else:
        _render(report, dry_run, verbose)
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


def _render(report: Any, dry_run: bool, verbose: bool) -> None:
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    for _name, outcome in sorted(report.stories.items()):
        shown = [d for d in outcome.diagnostics if verbose or d.get("severity") != "note"]
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
    for name, outcome in sorted(report.stories.items()):
        c = outcome.counts
        extra = ""
        if c.get("errors") or c.get("warnings"):
            extra = f" ({c.get('errors', 0)} error(s), {c.get('warnings', 0)} warning(s);" \
                    f" see build/{name}/diagnostics.json)"
        click.echo(f"{name}: {outcome.status}{extra}")
    for name in report.removed:
        click.echo(f"{name}: removed (story deleted)")
    click.echo(f"{len(report.executed)} action(s) executed, {report.cached} cached, "
               f"{len(report.failed)} failed in {report.seconds:.2f}s")
