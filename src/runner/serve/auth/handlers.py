"""``/auth/v1`` for users: signup, token (password, refresh_token), user, logout, settings."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from runner.db.sqlfiles import query
from runner.serve.auth import accounts, errors, passwords, sessions
from runner.serve.auth.common import json_body, reply, transact, user_claims
from runner.serve.rest.execute import Connector
from runner.serve.state import ServeState

GOTRUE_VERSION = "v2.170.0-runner"


class AuthApi:
    """The user-facing GoTrue endpoints of one ``serve``."""

    def __init__(self, state: ServeState, connector: Connector) -> None:
        self.state = state
        self.connector = connector

    async def health(self, request: Request) -> Response:
        return reply(
            {
                "version": GOTRUE_VERSION,
                "name": "GoTrue",
                "description": "GoTrue is a user registration and authentication API",
            }
        )

    async def settings(self, request: Request) -> Response:
        external = {
            name: name == "email"
            for name in ("anonymous_users", "apple", "azure", "github", "google", "email", "phone")
        }
        return reply(
            {
                "external": external,
                "disable_signup": False,
                "mailer_autoconfirm": True,
                "phone_autoconfirm": False,
                "sms_provider": "",
                "saml_enabled": False,
            }
        )

    async def signup(self, request: Request) -> Response:
        body = await json_body(request)
        if body.get("phone") and not body.get("email"):
            raise errors.AuthError(400, "phone_provider_disabled", "Phone signups are disabled")
        email = accounts.normalise_email(body.get("email"))
        password = body.get("password")
        if not isinstance(password, str) or not password:
            raise errors.validation("Signup requires a valid password")
        passwords.check_strength(password)
        data = accounts.metadata(body.get("data"), "data")
        password_hash = await passwords.hash_password(password)
        agent, ip = _client(request)

        async def work(conn: Any) -> dict[str, Any]:
            if await accounts.email_taken(conn, email):
                raise errors.AuthError(422, "user_already_exists", "User already registered")
            # GoTrue copies the identity's facts into user_metadata next to the data
            user_id = str(uuid.uuid4())
            meta = {**data, "email": email, "email_verified": True, "phone_verified": False}
            meta["sub"] = user_id
            await accounts.create_account(
                conn,
                email=email,
                password_hash=password_hash,
                user_metadata=meta,
                app_metadata={},
                confirmed=True,
                user_id=user_id,
                signing_in=True,
            )
            return await sessions.start_session(conn, self.state, user_id, user_agent=agent, ip=ip)

        return reply(await transact(self.connector, work))

    async def token(self, request: Request) -> Response:
        grant = request.query_params.get("grant_type", "")
        body = await json_body(request)
        if grant == "password":
            return reply(await self._password_grant(request, body))
        if grant == "refresh_token":
            token = body.get("refresh_token")
            if not isinstance(token, str) or not token:
                raise errors.AuthError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            return reply(
                await transact(
                    self.connector, lambda conn: sessions.refresh(conn, self.state, token)
                )
            )
        raise errors.AuthError(400, "validation_failed", "unsupported_grant_type")

    async def _password_grant(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        email = body.get("email")
        password = body.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or not password:
            raise errors.invalid_credentials()
        agent, ip = _client(request)

        async def find(conn: Any) -> tuple[str, str | None, bool] | None:
            cur = await conn.execute(query("auth_find_user_by_email"), {"email": email.strip()})
            row = await cur.fetchone()
            return None if row is None else (str(row[0]), row[1], bool(row[2]))

        found = await transact(self.connector, find)
        ok = await passwords.verify_password(password, found[1] if found else None)
        if not ok or found is None:
            raise errors.invalid_credentials()
        if not found[2]:
            raise errors.AuthError(400, "email_not_confirmed", "Email not confirmed")
        user_id = found[0]

        async def sign_in(conn: Any) -> dict[str, Any]:
            await conn.execute(query("auth_signed_in"), {"id": user_id})
            return await sessions.start_session(conn, self.state, user_id, user_agent=agent, ip=ip)

        return await transact(self.connector, sign_in)

    async def get_user(self, request: Request) -> Response:
        claims = user_claims(request, self.state)
        return reply(await transact(self.connector, lambda conn: _current_user(conn, claims)))

    async def update_user(self, request: Request) -> Response:
        claims = user_claims(request, self.state)
        body = await json_body(request)
        password = body.get("password")
        password_hash: str | None = None
        if password is not None:
            if not isinstance(password, str):
                raise errors.validation("password must be a string")
            passwords.check_strength(password)
            password_hash = await passwords.hash_password(password)
        email = accounts.normalise_email(body["email"]) if body.get("email") else None
        data = body.get("data")

        async def work(conn: Any) -> dict[str, Any]:
            user = await _current_user(conn, claims)
            if email and email != user.get("email") and await accounts.email_taken(conn, email):
                raise errors.AuthError(
                    422,
                    "email_exists",
                    "A user with this email address has already been registered",
                )
            meta = None
            if data is not None:
                meta = accounts.merge_metadata(
                    user.get("user_metadata") or {}, accounts.metadata(data, "data")
                )
            await accounts.update_account(
                conn, user["id"], email=email, password_hash=password_hash, user_metadata=meta
            )
            updated = await sessions.user_json(conn, user["id"])
            assert updated is not None
            return updated

        return reply(await transact(self.connector, work))

    async def logout(self, request: Request) -> Response:
        claims = user_claims(request, self.state)
        scope = request.query_params.get("scope", "global")
        if scope not in ("global", "local", "others"):
            raise errors.validation(f"Unsupported logout scope {scope!r}")
        session_id = claims.get("session_id")

        async def work(conn: Any) -> None:
            if scope == "local":
                if session_id:
                    await conn.execute(query("auth_delete_session"), {"id": session_id})
                return
            keep = session_id if scope == "others" else None
            await conn.execute(
                query("auth_delete_sessions"), {"user_id": claims["sub"], "keep": keep}
            )

        await transact(self.connector, work)
        return Response(status_code=204)


async def _current_user(conn: Any, claims: dict[str, Any]) -> dict[str, Any]:
    """The account of the token, checking its session still exists (403 like GoTrue)."""
    session_id = claims.get("session_id")
    if not _is_uuid(claims["sub"]) or (session_id is not None and not _is_uuid(session_id)):
        raise errors.AuthError(403, "bad_jwt", "invalid claim: sub and session_id must be UUIDs")
    if session_id:
        cur = await conn.execute(query("auth_session_exists"), {"id": session_id})
        row = await cur.fetchone()
        if not row or not row[0]:
            raise errors.AuthError(
                403, "session_not_found", "Session from session_id claim in JWT does not exist"
            )
    user = await sessions.user_json(conn, claims["sub"])
    if user is None:
        raise errors.AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
    return user


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _client(request: Request) -> tuple[str | None, str | None]:
    agent = request.headers.get("user-agent")
    ip = request.client.host if request.client else None
    return agent, ip
