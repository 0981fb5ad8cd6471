"""``prodscale build``: bring stories (or single targets) up to date."""

from __future__ import annotations

import sys

import click

from prodscale.cli.common import echo_json, is_tty, json_option, open_project, progress_printer, \
    project_option, render_diagnostics


@click.command("build")
@click.argument("targets", nargs=-1)
@click.option("--dry-run", "-n", is_flag=True, help="Say what would run; change nothing.")
@click.option("-k", "--keep-going", is_flag=True, help="Keep building other stories after a failure.")
@click.option("--no-wait", is_flag=True, help="Fail at once if another build holds the project lock.")
@click.option("-v", "--verbose", is_flag=True, help="Also show notes (errors and warnings are always shown).")
@json_option
@project_option
def command(targets: tuple[str, ...], dry_run: bool, keep_going: bool, no_wait: bool, verbose: bool,
            as_json: bool, project_dir: str | None) -> None:
    """Compile TARGETS (default: every story): STORY, STORY:STAGE or STORY#SCENE:STAGE."""
    from prodscale.exec.builder import Builder

    project = open_project(project_dir)
    show = progress_printer(is_tty() and not as_json)
    builder = Builder(project, on_progress=show)
    report = builder.build(list(targets), dry_run=dry_run, keep_going=keep_going,
                                                      wait=not no_wait)
    if show is not None:
        sys.stderr.write("\r\x1b[K")
    for outcome in report.stories.values():
        c = outcome.counts
        if as_json or verbose or c.get("errors") or c.get("warnings"):
            builder.replay_diagnostics(outcome)
    if as_json:
        echo_json(report.to_json())
    else:
        for problem in report.problems:
            click.echo(f"warning: {problem}", err=True)
        for name, outcome in sorted(report.stories.items()):
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
        else:
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
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)
