"""``prodscale jobs``: list, show, wait for, cancel and resume background builds."""

from __future__ import annotations

import time
from typing import Any

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option

WAIT_TIMEOUT_EXIT = 124  # as timeout(1): the job had not ended when the wait gave up


def _progress(job: Any) -> str:
    text = f"{job.stories_done}/{job.stories_total} stories, {job.actions_done}/{job.actions_total} actions"
    return text


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t is not None else "-"


@click.group("jobs", invoke_without_command=True)
@json_option
@project_option
@click.pass_context
def group(ctx: click.Context, as_json: bool, project_dir: str | None) -> None:
    """Background builds (`prodscale build --background`); with no subcommand, list them."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {**(ctx.obj or {}), "jobs_project": project_dir, "jobs_json": as_json}
        return
    from prodscale.exec.jobs import list_jobs
    jobs = list_jobs(open_project(project_dir))
    if as_json:
        echo_json({"jobs": [j.to_json() for j in jobs]})
        return
    if not jobs:
        click.echo("no jobs (start one with `prodscale build --background`)")
        return
    click.echo(f"{'ID':<8}  {'STATE':<9}  {'EXIT':>4}  {'STARTED':<19}  {'PROGRESS':<36}  ARGS")
    for j in jobs:
        code = "-" if j.exit_code is None else str(j.exit_code)
        click.echo(f"{j.id:<8}  {j.state:<9}  {code:>4}  {_when(j.started or j.created):<19}  {_progress(j):<36}  "
                   f"{' '.join(j.argv) or '(all stories)'}")
    if any(j.state == "dead" for j in jobs):
        click.echo("a dead job's process ended without finishing: `prodscale jobs resume ID` completes it", err=True)


def _project(project_dir: str | None) -> Any:
    if project_dir is None:
        ctx = click.get_current_context()
        parent = ctx.parent.obj if ctx.parent is not None and isinstance(ctx.parent.obj, dict) else {}
        project_dir = parent.get("jobs_project")
    return open_project(project_dir)


def _json(as_json: bool) -> bool:
    ctx = click.get_current_context()
    parent = ctx.parent.obj if ctx.parent is not None and isinstance(ctx.parent.obj, dict) else {}
    return as_json or bool(parent.get("jobs_json"))


@group.command("show")
@click.argument("job_id", metavar="ID")
@click.option("--lines", default=10, show_default=True, help="How many of the log's last lines to show.")
@json_option
@project_option
def show(job_id: str, lines: int, as_json: bool, project_dir: str | None) -> None:
    """One job: its state, progress per stage, current targets and the end of its log."""
    from prodscale.exec.jobs import show_job
    from prodscale.storage.jobs import iter_log_tail
    project = _project(project_dir)
    job = show_job(project, job_id)
    tail = list(iter_log_tail(project.root / job.log, lines))
    if _json(as_json):
        echo_json({**job.to_json(), "log_tail": tail})
        return
    click.echo(f"job {job.id}: {job.state}" + ("" if job.exit_code is None else f" (exit code {job.exit_code})"))
    click.echo(f"  build:    prodscale build {' '.join(job.argv)}".rstrip())
    click.echo(f"  created:  {_when(job.created)}")
    click.echo(f"  started:  {_when(job.started)}  (attempt {job.attempts}, pid {job.pid or '-'})")
    click.echo(f"  finished: {_when(job.finished)}")
    click.echo(f"  progress: {_progress(job)}")
    for stage in job.stages:
        c = job.stages[stage]
        click.echo(f"    {stage}: {c.get('executed', 0)} run, {c.get('cached', 0)} cached")
    if job.current:
        click.echo(f"  current:  {', '.join(job.current)}")
    if job.result:
        click.echo(f"  result:   {job.result.get('executed', 0)} action(s) executed, {job.result.get('cached', 0)} "
                   f"cached, {len(job.result.get('failed', []))} failed")
    click.echo(f"  log:      {job.log}")
    for line in tail:
        click.echo(f"    | {line}")
    if job.state == "dead":
        click.echo(f"its process ended without finishing: `prodscale jobs resume {job.id}` completes it", err=True)


@group.command("wait")
@click.argument("job_id", metavar="ID")
@click.option("--timeout", type=float, default=None, metavar="S", help="Give up after S seconds (exit 124).")
@json_option
@project_option
def wait_cmd(job_id: str, timeout: float | None, as_json: bool, project_dir: str | None) -> None:
    """Wait until a job ends; exit with its exit code (1 if it died, 124 on --timeout)."""
    from prodscale.exec.jobs import wait
    job = wait(_project(project_dir), job_id, timeout)
    if job is None:
        if _json(as_json):
            echo_json({"id": job_id, "state": "running", "timed_out": True})
        else:
            click.echo(f"job {job_id} is still running after {timeout:g}s", err=True)
        raise click.exceptions.Exit(WAIT_TIMEOUT_EXIT)
    if _json(as_json):
        echo_json(job.to_json())
    else:
        extra = "" if job.exit_code is None else f" (exit code {job.exit_code})"
        click.echo(f"job {job.id}: {job.state}{extra}")
        if job.state == "dead":
            click.echo(f"its process ended without finishing: `prodscale jobs resume {job.id}` completes it", err=True)
    code = job.exit_code if job.exit_code is not None else 1
    if code:
        raise click.exceptions.Exit(code)


@group.command("cancel")
@click.argument("job_id", metavar="ID")
@project_option
def cancel_cmd(job_id: str, project_dir: str | None) -> None:
    """Stop a job (SIGTERM to its processes); what it finished stays in the cache."""
    from prodscale.exec.jobs import cancel
    cancel(_project(project_dir), job_id)
    click.echo(f"job {job_id}: cancelled (resume it with `prodscale jobs resume {job_id}`)")


@group.command("resume")
@click.argument("job_id", metavar="ID")
@json_option
@project_option
def resume_cmd(job_id: str, as_json: bool, project_dir: str | None) -> None:
    """Run a dead, failed or cancelled job again (same id and arguments; finished work is cached)."""
    from prodscale.exec.jobs import resume
    job = resume(_project(project_dir), job_id)
    if _json(as_json):
        echo_json(job.to_json())
    else:
        click.echo(f"job {job.id}: resumed (attempt {job.attempts + 1}); follow it with "
                   f"`prodscale jobs wait {job.id}`")
