"""Errors that the CLI turns into one clear line on stderr and a non-zero exit."""

__all__ = ["FxsnnError", "UsageError"]


class FxsnnError(Exception):
    """A user-facing failure: the message names the problem and what to do about it."""

    exit_code = 1


class UsageError(FxsnnError):
    """Bad arguments or configuration."""

    exit_code = 2
