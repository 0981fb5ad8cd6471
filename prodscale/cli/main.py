"""The ``prodscale`` command group and the one place errors become text and exit codes.

Commands live one per module in ``prodscale.cli`` and are imported lazily, so a no-op
``prodscale build`` does not pay for importing what ``graph`` or ``parse`` need.
"""

from __future__ import annotations

import importlib
import sys

import click

from prodscale.errors import ProdscaleError

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "parse": "prodscale.cli.parse_cmd:command",
    "build": "prodscale.cli.build_cmd:command",
    "status": "prodscale.cli.status_cmd:command",
    "why": "prodscale.cli.why_cmd:command",
    "graph": "prodscale.cli.graph_cmd:command",
    "cache": "prodscale.cli.cache_cmd:group",
    "init": "prodscale.cli.init_cmd:command",
    "explain": "prodscale.cli.explain_cmd:command",
    "generate": "prodscale.cli.generate_cmd:command",
    "credits": "prodscale.cli.credits_cmd:group",
    "sandbox-provider": "prodscale.cli.sandbox_cmd:command",
    "verify": "prodscale.cli.verify_cmd:command",
    "reanalyze": "prodscale.cli.reanalyze_cmd:command",
    "lock": "prodscale.cli.lock_cmd:group",
    "jobs": "prodscale.cli.jobs_cmd:group",
    "stats": "prodscale.cli.stats_cmd:command",
    "diagnostics": "prodscale.cli.diagnostics_cmd:command",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prodscale")
@click.option("-C", "--project", "project_dir", default=None, metavar="DIR",
              help="Run as if started in DIR (also accepted after the command name).")
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None) -> None:
    """prodscale: compile Fountain screenplays into shot specs, prompts and scene reality checks."""
    ctx.obj = {"project_dir": project_dir}


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and renders any ProdscaleError exactly once, with its exit code."""
    try:
        rv = cli.main(args=argv, prog_name="prodscale", standalone_mode=False)
    except ProdscaleError as err:
        click.echo(err.render(), err=True)
        return err.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C into Abort; outputs are written atomically, so nothing is half-written
        click.echo("interrupted: finished work is kept; run the command again to complete it", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2
    except click.exceptions.Exit as err:
        return err.exit_code
    except OSError as exc:
        # the file system said no (a full disk, a folder where a file belongs): every write is atomic, so
        # nothing is half written; say where and what to do, once, like any other error
        import errno

        from prodscale.errors import StorageError
        if exc.errno == errno.EPIPE:  # the reader went away (`prodscale status | head`): nothing to say
            return 141
        err2 = StorageError.from_os_error(exc)
        click.echo(err2.render(), err=True)
        return err2.exit_code
    return rv if isinstance(rv, int) else 0


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
