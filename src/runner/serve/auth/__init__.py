"""``/auth/v1``: the GoTrue subset the clients use.

Password sign-up (auto-confirmed) and sign-in, rotating refresh tokens, the current
user, sign-out by scope, settings and health, and the admin user API for the service
role; accounts live in ``auth.users``/``auth.identities`` like GoTrue's, bcrypt-hashed.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from runner.serve.state import ServeState


def routes(state: ServeState) -> list[BaseRoute]:
    """The routes mounted at ``/auth/v1``."""
    from runner.serve.auth.admin import AdminApi
    from runner.serve.auth.common import endpoint
    from runner.serve.auth.handlers import AuthApi
    from runner.serve.rest.execute import Connector

    connector = Connector(state)
    api = AuthApi(state, connector)
    admin = AdminApi(state, connector)

    def route(path: str, handler: object, methods: list[str]) -> Route:
        return Route(path, endpoint(state, handler), methods=methods)  # type: ignore[arg-type]

    return [
        route("/health", api.health, ["GET"]),
        route("/settings", api.settings, ["GET"]),
        route("/signup", api.signup, ["POST"]),
        route("/token", api.token, ["POST"]),
        route("/user", api.get_user, ["GET"]),
        route("/user", api.update_user, ["PUT"]),
        route("/logout", api.logout, ["POST"]),
        route("/admin/users", admin.list_users, ["GET"]),
        route("/admin/users", admin.create_user, ["POST"]),
        route("/admin/users/{user_id}", admin.get_user, ["GET"]),
        route("/admin/users/{user_id}", admin.update_user, ["PUT"]),
        route("/admin/users/{user_id}", admin.delete_user, ["DELETE"]),
    ]
