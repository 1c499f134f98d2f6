"""The project's one error type.

Everything a user can get wrong (a model name, a data file, a flag) raises `ZooError` with a
one-line message; the command line prints that line and exits non-zero instead of a traceback.
"""


class ZooError(Exception):
    """A problem the user can fix, described in one line."""


class DataError(ZooError):
    """A data file is missing, truncated, corrupt or inconsistent."""


class UnknownModelError(ZooError, KeyError):
    """No model is registered under the requested name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
