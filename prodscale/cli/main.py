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
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prodscale")
def cli() -> None:
    """prodscale: compile Fountain screenplays into shot specs, prompts and scene reality checks."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and renders any ProdscaleError exactly once, with its exit code."""
    try:
        cli.main(args=argv, prog_name="prodscale", standalone_mode=False)
    except ProdscaleError as err:
        click.echo(err.render(), err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2
    except click.exceptions.Exit as err:
        return err.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
