"""``python -m prodscale``: the same as the ``prodscale`` command."""

from prodscale.cli.main import entry

entry()
