"""PostgREST-shaped errors: ``{"code", "details", "hint", "message"}`` and their statuses.

Database errors are translated once, here, with PostgREST's SQLSTATE -> HTTP status
table; the message is Postgres's own primary message (no query text, no parameters).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.responses import Response

from runner.serve.rest.parse import ParseError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error response of ``/rest/v1``."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        details: str | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }

    def response(self) -> Response:
        headers = dict(self.headers)
        if self.code:
            # what postgrest-py reads when the body is missing (HEAD)
            headers["Proxy-Status"] = f"PostgREST; error={self.code}"
        return Response(
            json.dumps(self.body(), separators=(",", ":")),
            status_code=self.status,
            media_type="application/json; charset=utf-8",
            headers=headers,
        )


def from_parse_error(exc: ParseError) -> ApiError:
    return ApiError(400, "PGRST100", exc.message, details=exc.details)


def table_not_found(name: str, known: list[str]) -> ApiError:
    hint = _closest(name, known)
    return ApiError(
        404,
        "PGRST205",
        f"Could not find the table 'public.{name}' in the schema cache",
        hint=f"Perhaps you meant the table 'public.{hint}'" if hint else None,
    )


def column_not_found(table: str, column: str) -> ApiError:
    return ApiError(400, "42703", f"column {table}.{column} does not exist")


def write_column_not_found(table: str, column: str) -> ApiError:
    return ApiError(
        400, "PGRST204", f"Could not find the '{column}' column of '{table}' in the schema cache"
    )


def function_not_found(name: str, args: list[str]) -> ApiError:
    listed = ", ".join(sorted(args))
    suffix = f"({listed})" if args else " without parameters"
    return ApiError(
        404,
        "PGRST202",
        f"Could not find the function public.{name}{suffix} in the schema cache",
        hint="Perhaps you meant to call a function with other named parameters",
    )


def relationship_not_found(parent: str, child: str) -> ApiError:
    return ApiError(
        400,
        "PGRST200",
        f"Could not find a relationship between '{parent}' and '{child}' in the schema cache",
        hint="Verify that the tables are related by a foreign key.",
    )


def not_one_row(count: int) -> ApiError:
    return ApiError(
        406,
        "PGRST116",
        "Cannot coerce the result to a single JSON object",
        details=f"The result contains {count} rows",
    )


def database_unavailable() -> ApiError:
    return ApiError(
        503,
        "PGRST001",
        "Database client error. Retrying the connection.",
        details="the database is not reachable",
    )


def from_database_error(exc: Any, role: str) -> ApiError:
    """Translate a ``psycopg.Error`` (raised by the request's statement).

    An error without a SQLSTATE never reached the server: psycopg refused a parameter
    (input the edge let through) or the statement. Its text is the driver's, so it is
    logged, not sent; the client gets PostgREST's shape with a 400.
    """
    diag = getattr(exc, "diag", None)
    sqlstate: str | None = getattr(exc, "sqlstate", None)
    if sqlstate is None:
        log.warning("request refused by the driver: %s: %s", type(exc).__name__, exc)
        return ApiError(400, "PGRST100", "failed to parse the request's values")
    message = (getattr(diag, "message_primary", None) or str(exc).splitlines()[0]).strip()
    details = getattr(diag, "message_detail", None)
    hint = getattr(diag, "message_hint", None)
    return ApiError(status_for(sqlstate, role), sqlstate, message, details=details, hint=hint)


def status_for(sqlstate: str | None, role: str) -> int:
    """PostgREST's SQLSTATE -> HTTP status mapping."""
    if sqlstate is None:
        return 500
    exact = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "P0001": 400,
        "42883": 404,
        "42P01": 404,
        "42P17": 500,
        "42501": 401 if role == "anon" else 403,
        "57P01": 503,
        "57P03": 503,
    }
    if sqlstate in exact:
        return exact[sqlstate]
    by_class = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "25": 500,
        "28": 403,
        "2D": 500,
        "38": 500,
        "39": 500,
        "3B": 500,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "F0": 500,
        "HV": 500,
        "P0": 500,
        "XX": 500,
    }
    return by_class.get(sqlstate[:2], 400)


def _closest(name: str, known: list[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return matches[0] if matches else None
