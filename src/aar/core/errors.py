"""The error taxonomy.

``AarError`` and its subclasses are *user* errors: bad input, a missing file, an unknown
name. The command line prints their message on one line and exits non-zero, without a
traceback. Anything else that escapes is a bug in aar and keeps its traceback.
"""

from __future__ import annotations


class AarError(Exception):
    """A problem the user can fix; its message says what and where."""

    exit_code = 2

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take other constructor arguments; rebuild from the message so errors
        # raised in worker processes cross back to the parent intact.
        return (_restore, (type(self), str(self), dict(self.__dict__)))


def _restore(cls: type[AarError], message: str, state: dict[str, object]) -> AarError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigError(AarError):
    """A configuration value is missing, unknown or out of range."""


class UnknownNameError(ConfigError):
    """A registry lookup by a name that is not registered."""

    def __init__(self, kind: str, name: str, valid: list[str], hint: str = "") -> None:
        self.kind, self.name, self.valid = kind, name, valid
        message = f"unknown {kind} {name!r}; valid {kind}s: {', '.join(valid) or '(none)'}"
        super().__init__(message + (f" ({hint})" if hint else ""))


class DataError(AarError):
    """A data file or folder is missing or malformed."""


class MissingDependencyError(AarError):
    """An optional dependency is needed for what was asked."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the package {package!r}: install it with pip install 'aar[{extra}]'"
        )


class GapTooSmallError(AarError):
    """ceiling - weak is too small for PGR to mean anything."""

    exit_code = 1
