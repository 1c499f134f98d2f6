"""Every error the zoo raises on purpose.

Everything a user can get wrong (a model name, a data file, a flag, a plugin) raises a `ZooError`
with a one-line message; the command line prints that line and exits non-zero instead of a
traceback. `Interrupted` is the one that carries its own exit code (128 + the signal).
"""


class ZooError(Exception):
    """A problem the user can fix, described in one line."""


class DataError(ZooError):
    """A data file is missing, truncated, corrupt or inconsistent."""


class UnknownModelError(ZooError, KeyError):
    """No model is registered under the requested name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DuplicateModelError(ZooError, ValueError):
    """A second registration under a taken name (replacing one is `replace_model`'s job)."""


class PluginError(ZooError):
    """A module named in $ZOO_PLUGINS is missing, fails on import, or registers a taken name."""


class TargetError(ZooError):
    """`zoo check` cannot judge its target: no such file or builder, or no module comes out of it.

    Exit 2, apart from exit 1 (a model judged and found failing), so CI can tell the two apart."""

    exit_code = 2


class AlreadyRecorded(ZooError):
    """A run whose weights are already on the record: harmless when recording a folder again."""


class TrainingDiverged(ZooError):
    """The loss went non-finite; the last good checkpoint is kept (a tuner fails just that trial)."""


class Interrupted(ZooError):
    """Training stopped on a signal after saving a checkpoint."""

    def __init__(self, message: str, exit_code: int, *, quiet: bool = False) -> None:
        super().__init__(message)
        self.exit_code, self.quiet = exit_code, quiet  # quiet: another rank prints the message


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
