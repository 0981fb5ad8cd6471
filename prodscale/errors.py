"""The one exception tree of prodscale.

Every error a user can cause or meet is a ``ProdscaleError`` subclass that carries its exit code
(see the design: 0 ok, 1 build finished with errors, 2 usage or input error, 3 integrity failure)
and an optional ``hint`` saying what to do. The CLI entry point is the only place that turns them
into text and exit codes, so every command reports errors the same way.
"""

from __future__ import annotations


class ProdscaleError(Exception):
    """Base of all prodscale errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, path: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        self.column = column

    def location(self) -> str:
        """``path:line:col`` as far as known, '' when nothing is known."""
        if not self.path:
            return ""
        loc = self.path
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def render(self) -> str:
        loc = self.location()
        text = f"{loc}: error: {self.message}" if loc else f"error: {self.message}"
        if self.hint:
            text += f"\n  help: {self.hint}"
        return text


class UsageError(ProdscaleError):
    """The command line asked for something that does not exist or cannot be done."""

    exit_code = 2


class InputError(ProdscaleError):
    """A file the user wrote (a story, prodscale.toml, the lock) cannot be read as it stands."""

    exit_code = 2


class DecodeError(InputError):
    """A story is not valid UTF-8; names the line, column and byte offset of the first bad byte."""

    def __init__(self, message: str, *, byte_offset: int, line: int, column: int, path: str | None = None) -> None:
        super().__init__(message, hint="save the file as UTF-8 (most editors: File > Save with Encoding > UTF-8)",
                         path=path, line=line, column=column)
        self.byte_offset = byte_offset


class ConfigError(InputError):
    """prodscale.toml is missing, malformed or holds an unknown or ill-typed setting."""


class GraphError(UsageError):
    """An unknown target or a cycle in the rule graph."""


class LockBusy(ProdscaleError):
    """Another prodscale process holds the project lock and we were told not to wait."""

    exit_code = 2


class BuildFailed(ProdscaleError):
    """The build ran to the end but some targets failed or were blocked (exit 1)."""

    exit_code = 1


class IntegrityError(ProdscaleError):
    """Verification found tampering or drift (exit 3)."""

    exit_code = 3


class ProviderError(ProdscaleError):
    """A generation provider cannot be used as configured (missing or refused API key, unreachable)."""

    exit_code = 1


class GenerationIncomplete(ProdscaleError):
    """``generate`` ran but some clips were refused (credits) or failed; the rest are recorded (exit 1)."""

    exit_code = 1


class StorageError(ProdscaleError):
    """The file system refused a read or a write (a full disk, a folder where a file belongs, permissions).
    Writes are atomic, so what was there before is intact (exit 1)."""

    exit_code = 1

    @classmethod
    def from_os_error(cls, exc: OSError) -> StorageError:
        import errno
        import os

        where = os.fsdecode(exc.filename) if exc.filename is not None else None
        what = exc.strerror or str(exc)
        hints = {
            errno.ENOSPC: "free some disk space and run the command again: finished work is kept and nothing was "
                          "half written",
            errno.EDQUOT: "free some of your disk quota and run the command again: finished work is kept",
            errno.EROFS: "the file system is read-only: run from a writable copy of the project",
            errno.EACCES: "check the permissions of that path (prodscale writes build/, .prodscale/ and "
                          "prodscale.lock)",
            errno.EPERM: "check the permissions of that path",
        }
        layout = ("something else is where prodscale keeps a file or folder: move it away (what is under "
                  ".prodscale/ is rebuilt by the next build, except ledger.sqlite, which holds money)")
        for code in (errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ENOTEMPTY):
            hints[code] = layout
        return cls(f"{where}: {what}" if where else what,
                   hint=hints.get(exc.errno or 0, "check that path and run the command again"))
