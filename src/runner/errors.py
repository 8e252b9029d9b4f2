"""Exceptions that end a command. Each owns its exit code; only ``cli.main`` exits.

Failed checks are never exceptions: they are results. These are for a broken run:
a bad suite file, a cycle, a missing setting, an unreachable database.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_TESTS_FAILED = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_SERVICE = 4
EXIT_ARCHIVE = 5
EXIT_INTERRUPTED = 130


class RunnerError(Exception):
    """Base of every error the CLI turns into one line and an exit code."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(RunnerError):
    """A setting or command-line value is wrong."""

    exit_code = EXIT_USAGE


class CapabilityError(ConfigError):
    """The store in use cannot do what was asked; one line naming the store and the task.

    ``the supabase store cannot rotate the secret key: use a database URL``.
    """

    def __init__(self, store: str, capability: str, hint: str = "") -> None:
        self.store = store
        self.capability = capability
        super().__init__(f"the {store} store cannot {capability}" + (f": {hint}" if hint else ""))


class SuiteError(RunnerError):
    """A suite file is malformed or inconsistent; names file, line and key."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        what = f"{key}: " if key else ""
        super().__init__(f"{where}{what}{message}")
        self.reason = message


class PlanError(SuiteError):
    """The dependency graph cannot be run: a cycle or an unknown reference."""


class DatabaseError(RunnerError):
    """The database is unreachable, refused us, or a migration failed."""

    exit_code = EXIT_DATABASE


class MigrationError(DatabaseError):
    """A migration file could not be applied or was changed after being applied."""


class EmbeddedServerError(DatabaseError):
    """The embedded PostgreSQL could not be started, stopped or found."""


class ServiceError(RunnerError):
    """A service named by the suite did not start or never became healthy."""

    exit_code = EXIT_SERVICE


def cause_chain(exc: BaseException) -> str:
    """One line: the message of ``exc`` followed by its distinct causes."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip().splitlines()[0] if str(current).strip() else ""
        if not text:
            text = type(current).__name__
        if not parts or text not in parts[-1]:
            parts.append(text)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return ": ".join(parts)
