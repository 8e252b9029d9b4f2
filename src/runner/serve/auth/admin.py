"""``/auth/v1/admin/users``: what ``auth.admin.create_user/list_users/get_user_by_id/
update_user_by_id/delete_user`` call, for the service role only."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from runner.db.sqlfiles import query
from runner.serve.auth import accounts, errors, passwords, sessions
from runner.serve.auth.common import json_body, reply, require_admin, transact
from runner.serve.rest.execute import Connector
from runner.serve.state import ServeState

MAX_PER_PAGE = 1000


class AdminApi:
    """Admin endpoints (the bearer token must be the service_role key)."""

    def __init__(self, state: ServeState, connector: Connector) -> None:
        self.state = state
        self.connector = connector

    async def create_user(self, request: Request) -> Response:
        require_admin(request, self.state)
        body = await json_body(request)
        email = accounts.normalise_email(body.get("email"))
        password = body.get("password")
        password_hash: str | None = None
        if password is not None:
            if not isinstance(password, str):
                raise errors.validation("password must be a string")
            passwords.check_strength(password)
            password_hash = await passwords.hash_password(password)
        user_metadata = accounts.metadata(body.get("user_metadata"), "user_metadata")
        app_metadata = accounts.metadata(body.get("app_metadata"), "app_metadata")
        role = body.get("role") or "authenticated"
        if not isinstance(role, str):
            raise errors.validation("role must be a string")

        async def work(conn: Any) -> dict[str, Any]:
            if await accounts.email_taken(conn, email):
                raise errors.AuthError(
                    422,
                    "email_exists",
                    "A user with this email address has already been registered",
                )
            user_id = await accounts.create_account(
                conn,
                email=email,
                password_hash=password_hash,
                user_metadata=user_metadata,
                app_metadata=app_metadata,
                confirmed=bool(body.get("email_confirm")),
                role=role,
                user_id=body.get("id"),
            )
            user = await sessions.user_json(conn, user_id)
            assert user is not None
            return user

        return reply(await transact(self.connector, work))

    async def list_users(self, request: Request) -> Response:
        require_admin(request, self.state)
        page = _positive(request.query_params.get("page"), 1)
        per_page = min(_positive(request.query_params.get("per_page"), 50), MAX_PER_PAGE)

        async def work(conn: Any) -> tuple[list[dict[str, Any]], int]:
            cur = await conn.execute(
                query("auth_list_users"), {"limit": per_page, "offset": (page - 1) * per_page}
            )
            users = []
            for (user_id,) in await cur.fetchall():
                user = await sessions.user_json(conn, user_id)
                if user is not None:
                    users.append(user)
            cur = await conn.execute(query("auth_count_users"))
            row = await cur.fetchone()
            return users, int(row[0])

        users, total = await transact(self.connector, work)
        response = reply({"users": users, "aud": "authenticated"})
        response.headers["X-Total-Count"] = str(total)
        return response

    async def get_user(self, request: Request) -> Response:
        require_admin(request, self.state)
        user_id = _user_id(request)
        user = await transact(self.connector, lambda conn: sessions.user_json(conn, user_id))
        if user is None:
            raise errors.user_not_found()
        return reply(user)

    async def update_user(self, request: Request) -> Response:
        require_admin(request, self.state)
        user_id = _user_id(request)
        body = await json_body(request)
        password = body.get("password")
        password_hash = None
        if password is not None:
            if not isinstance(password, str):
                raise errors.validation("password must be a string")
            passwords.check_strength(password)
            password_hash = await passwords.hash_password(password)
        email = accounts.normalise_email(body["email"]) if body.get("email") else None

        async def work(conn: Any) -> dict[str, Any]:
            user = await sessions.user_json(conn, user_id)
            if user is None:
                raise errors.user_not_found()
            user_meta = app_meta = None
            if body.get("user_metadata") is not None:
                user_meta = accounts.merge_metadata(
                    user["user_metadata"],
                    accounts.metadata(body["user_metadata"], "user_metadata"),
                )
            if body.get("app_metadata") is not None:
                app_meta = accounts.merge_metadata(
                    user["app_metadata"], accounts.metadata(body["app_metadata"], "app_metadata")
                )
            await accounts.update_account(
                conn,
                user_id,
                email=email,
                password_hash=password_hash,
                user_metadata=user_meta,
                app_metadata=app_meta,
                role=body.get("role") if isinstance(body.get("role"), str) else None,
                confirm=bool(body.get("email_confirm")),
            )
            updated = await sessions.user_json(conn, user_id)
            assert updated is not None
            return updated

        return reply(await transact(self.connector, work))

    async def delete_user(self, request: Request) -> Response:
        require_admin(request, self.state)
        user_id = _user_id(request)
        body = await json_body(request)
        soft = bool(body.get("should_soft_delete"))

        async def work(conn: Any) -> int:
            name = "auth_delete_user" if soft else "auth_hard_delete_user"
            cur = await conn.execute(query(name), {"id": user_id, "soft": soft})
            return int(cur.rowcount)

        if await transact(self.connector, work) == 0:
            raise errors.user_not_found()
        return reply({})


def _user_id(request: Request) -> str:
    raw = request.path_params["user_id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise errors.AuthError(404, "user_not_found", "User not found") from None


def _positive(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.validation(f"invalid paging value {raw!r}") from None
    return value if value > 0 else default
