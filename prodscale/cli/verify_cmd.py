"""``prodscale verify [STORY...] [--rebuild]``: prove outputs, manifests and lock agree (exit 3 if not)."""

from __future__ import annotations

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


@click.command("verify")
@click.argument("stories", nargs=-1)
@click.option("--rebuild", is_flag=True, help="Also recompile from scratch elsewhere, without the cache, "
                                              "and prove the bytes are the same.")
@json_option
@project_option
def command(stories: tuple[str, ...], rebuild: bool, as_json: bool, project_dir: str | None) -> None:
    """Re-hash every output against its manifest and every manifest against prodscale.lock."""
    from prodscale.exec.verify import CANNOT, PROVES, verify_outputs, verify_rebuild

    project = open_project(project_dir)
    check = verify_rebuild if rebuild else verify_outputs
    names, findings = check(project, list(stories) or None)
    errors = [f for f in findings if f.level == "error"]
    if as_json:
        echo_json({"ok": not errors, "stories": names, "findings": [f.to_dict() for f in findings],
                   "proves": PROVES + ("; and that a clean rebuild gives the same bytes" if rebuild else ""),
                   "does_not_prove": "" if rebuild else CANNOT})
    else:
        for f in findings:
            click.echo(f"{f.file}: {f.level}: {f.problem}", err=True)
        bad = {f.story for f in errors}
        for name in names:
            click.echo(f"{name}: {'FAILED' if name in bad else 'ok'}")
        what = "outputs, manifests, lock and a clean rebuild" if rebuild else "outputs, manifests and lock"
        notes = len(findings) - len(errors)
        click.echo(f"verified {what} of {len(names)} stor{'y' if len(names) == 1 else 'ies'}: "
                   f"{len(errors)} problem(s)" + (f", {notes} note(s)" if notes else ""))
        click.echo(f"proved: {PROVES}" + ("; and that a clean rebuild gives the same bytes" if rebuild else ""))
        if not rebuild:
            click.echo(f"not proved: {CANNOT}")
    if errors:
        raise click.exceptions.Exit(3)
