"""Who a ``/rest/v1`` request acts as: the API gateway's key check, then PostgREST's JWT.

Like Supabase: the ``apikey`` header (or query parameter) must carry one of the
project's keys, else 401 before anything else; the role and claims come from
``Authorization: Bearer <jwt>``, falling back to the key itself. A JWT that is
malformed, badly signed or expired is a 401 with PostgREST's code (PGRST301 / PGRST303).
"""

from __future__ import annotations

from starlette.requests import Request

from runner.db.identity import Identity
from runner.serve.keys import InvalidToken, ServeKeys
from runner.serve.rest.errors import ApiError

# the roles a token may switch to (PostgREST: the roles granted to authenticator)
API_ROLES = frozenset({"anon", "authenticated", "service_role"})


def api_key(request: Request) -> str | None:
    """The key the client presented (header first, then ``?apikey=``)."""
    return request.headers.get("apikey") or request.query_params.get("apikey")


def check_api_key(request: Request, keys: ServeKeys) -> None:
    """401 with the gateway's body unless the request carries a valid project key."""
    key = api_key(request)
    if not key:
        raise ApiError(
            401,
            None,
            "No API key found in request",
            hint="No `apikey` request header or url param was found.",
        )
    try:
        keys.decode(key)
    except InvalidToken:
        raise ApiError(
            401,
            None,
            "Invalid API key",
            hint="Double check your Supabase `anon` or `service_role` API key.",
        ) from None


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def request_identity(request: Request, keys: ServeKeys) -> Identity:
    """The role and claims this request runs with (``ApiError`` 401 otherwise)."""
    check_api_key(request, keys)
    token = bearer_token(request) or api_key(request)
    assert token is not None
    try:
        claims = keys.decode(token)
    except InvalidToken as exc:
        expired = "expired" in str(exc)
        code, message = ("PGRST303", "JWT expired") if expired else ("PGRST301", str(exc))
        raise ApiError(
            401,
            code,
            message,
            headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'
            },
        ) from None
    role = claims.get("role")
    if not isinstance(role, str) or role not in API_ROLES:
        raise ApiError(401, "PGRST301", "JWT role is not one of anon, authenticated, service_role")
    return Identity(role, claims)
