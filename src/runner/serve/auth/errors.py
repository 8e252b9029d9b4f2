"""GoTrue-shaped errors, in the form the client asked for.

Clients that send ``X-Supabase-Api-Version: 2024-01-01`` (supabase-py, supabase-js)
get ``{"code": "<error_code>", "message": ...}`` and the version header back, as
current GoTrue answers; others get the legacy ``{"code": <status>, "error_code", "msg"}``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION = "2024-01-01"


class AuthError(Exception):
    """An error response of ``/auth/v1``."""

    def __init__(
        self, status: int, error_code: str, message: str, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.extra = extra or {}

    def response(self, request: Request) -> Response:
        if wants_dated_api(request):
            body: dict[str, Any] = {"code": self.error_code, "message": self.message}
            headers = {API_VERSION_HEADER: API_VERSION}
        else:
            body = {"code": self.status, "error_code": self.error_code, "msg": self.message}
            headers = {}
        body.update(self.extra)
        return Response(
            json.dumps(body),
            status_code=self.status,
            media_type="application/json",
            headers=headers,
        )


def wants_dated_api(request: Request) -> bool:
    """Whether the client asked for the 2024-01-01 API (ISO dates compare as strings)."""
    version = request.headers.get(API_VERSION_HEADER, "").strip()
    return len(version) == 10 and version >= API_VERSION


def invalid_credentials() -> AuthError:
    return AuthError(400, "invalid_credentials", "Invalid login credentials")


def no_authorization() -> AuthError:
    return AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")


def bad_jwt(reason: str) -> AuthError:
    return AuthError(403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {reason}")


def not_admin() -> AuthError:
    return AuthError(403, "not_admin", "User not allowed")


def user_not_found() -> AuthError:
    return AuthError(404, "user_not_found", "User not found")


def validation(message: str, status: int = 400) -> AuthError:
    return AuthError(status, "validation_failed", message)


def weak_password(message: str, reasons: list[str]) -> AuthError:
    return AuthError(422, "weak_password", message, {"weak_password": {"reasons": reasons}})


def bad_json() -> AuthError:
    return AuthError(400, "bad_json", "Could not parse request body as JSON")


def unavailable() -> AuthError:
    return AuthError(503, "unexpected_failure", "Database error: the database is not reachable")
