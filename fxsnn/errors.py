"""fxsnn's own errors: the ones the CLI turns into one clear line on stderr and a non-zero exit.

Anything else that escapes a command is a bug in fxsnn, and the CLI shows its traceback as such
(:func:`fxsnn.cli.main`).
"""

__all__ = ["FxsnnError", "UsageError", "ParameterError"]


class FxsnnError(Exception):
    """A user-facing failure: the message names the problem and what to do about it."""

    exit_code = 1


class UsageError(FxsnnError):
    """Bad arguments or configuration."""

    exit_code = 2


class ParameterError(UsageError, ValueError):
    """A value outside its documented range (docs/fixed-point.md for network parameters); also a
    ``ValueError``, as Python callers expect of a bad argument."""
