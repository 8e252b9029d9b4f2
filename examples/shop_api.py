"""A small shop API for the example suite (``examples/shop.yaml``) to test.

Run it:    python examples/shop_api.py --port 8765 [--host 127.0.0.1]
Import it: ``create_app()`` returns a Starlette app with fresh in-memory state, so
tests can drive it in-process through ``httpx.ASGITransport``.

Seeded users (all share one password, ``$SHOP_DEMO_PASSWORD``, default
``demo-password``): alice@example.com, bob@example.com, carol@example.com.

Everything but ``/health``, ``/auth/*``, ``/flaky`` and ``/slow`` needs
``Authorization: Bearer <access_token>``, the catalog included: that way the
suite's catalog test really depends on the login. Errors are JSON
``{"error": <code>, "message": <text>}``.

Deliberate behaviours for tests to find:
- ``POST /auth/login`` takes an optional ``ttl_seconds`` (0 gives a token that is
  already expired) -> 401 ``token_expired``.
- Each login opens a session with its own empty cart, so the suite can run again
  and again against one server without leftovers from an earlier run.
- ``POST /cart/items`` sets the line's quantity instead of adding to it, so
  retrying it is harmless; stock is a per-line limit and is never decremented.
- ``GET /flaky/{key}?fail=N`` answers 503 the first N times per key, then 200.
- ``GET /slow?ms=N`` waits N ms (at most 5000) before answering.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

VERSION = "1.0.0"
DEFAULT_PASSWORD = "demo-password"  # noqa: S105 - a documented demo credential
DEFAULT_TTL_S = 3600
MAX_TTL_S = 86_400
MAX_SLOW_MS = 5000
MAX_FLAKY_FAILURES = 100


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: Decimal
    stock: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "price": _money(self.price),
            "currency": "EUR",
            "stock": self.stock,
        }


# Fixed ids and order so suites and CSV fixtures can name products.
PRODUCTS = {
    p.id: p
    for p in (
        Product("prod-keyboard", "Mechanical keyboard", Decimal("89.90"), 5),
        Product("prod-mouse", "Wireless mouse", Decimal("24.50"), 10),
        Product("prod-monitor", "27-inch monitor", Decimal("219.00"), 3),
        Product("prod-cable", "USB-C cable", Decimal("9.99"), 50),
    )
}

# Fixed uuids so a user's id is the same in every run of the demo.
SEED_USERS = (
    ("3f6c1e2a-8b4d-4c7e-9a15-2d8e6b0f4a11", "alice@example.com", "Alice Martin"),
    ("7a2d9c4e-1f3b-4e8a-b6c0-5e9f1a3d7b22", "bob@example.com", "Bob Nguyen"),
    ("c81e5b3f-6d2a-4f9c-8e47-0b3a9d6c2e33", "carol@example.com", "Carol Osei"),
)


class ApiError(Exception):
    """Ends a request with a JSON error body."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


@dataclass
class Session:
    user_id: str
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    refresh_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cart_id: str = field(default_factory=lambda: f"cart-{uuid.uuid4()}")
    cart: dict[str, int] = field(default_factory=dict)  # product id -> quantity, in order


@dataclass
class Shop:
    """All state of one app; nothing is shared between apps."""

    password: str
    clock: Callable[[], float]
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, tuple[Session, float]] = field(default_factory=dict)  # -> expiry
    refresh: dict[str, Session] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    flaky: dict[str, int] = field(default_factory=dict)

    def issue(self, session: Session, ttl: int) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (session, self.clock() + ttl)
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    def session(self, request: Request) -> Session:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("missing_token", "send Authorization: Bearer <access_token>")
        found = self.tokens.get(token.strip())
        if found is None:
            raise _unauthorized("invalid_token", "the access token is not valid")
        session, expires_at = found
        if self.clock() >= expires_at:
            raise _unauthorized("token_expired", "the access token has expired")
        return session

    def cart_json(self, session: Session) -> dict[str, Any]:
        items = [
            {
                "product_id": pid,
                "name": PRODUCTS[pid].name,
                "unit_price": _money(PRODUCTS[pid].price),
                "quantity": qty,
                "line_total": _money(PRODUCTS[pid].price * qty),
            }
            for pid, qty in session.cart.items()
        ]
        total = sum((PRODUCTS[pid].price * qty for pid, qty in session.cart.items()), Decimal(0))
        return {
            "id": session.cart_id,
            "items": items,
            "item_count": sum(session.cart.values()),
            "total": _money(total),
            "currency": "EUR",
        }


def _money(value: Decimal) -> float:
    # Decimal keeps sums exact; JSON clients expect a plain number with two places.
    return float(value.quantize(Decimal("0.01")))


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, {"WWW-Authenticate": f'Bearer error="{code}"'})


def _shop(request: Request) -> Shop:
    shop: Shop = request.app.state.shop
    return shop


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "validation_error", f"'{name}' is required (non-empty string)")
    return value


def _integer(value: Any, name: str, low: int, high: int) -> int:
    # Integer strings are accepted too: templated and CSV-driven clients often send "3".
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, "validation_error", f"'{name}' must be an integer")
    if not low <= value <= high:
        raise ApiError(422, "validation_error", f"'{name}' must be between {low} and {high}")
    return value


def _ttl(body: dict[str, Any]) -> int:
    raw = body.get("ttl_seconds", DEFAULT_TTL_S)
    return _integer(raw, "ttl_seconds", 0, MAX_TTL_S)


# ------------------------------------------------------------------ endpoints


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": VERSION})


async def login(request: Request) -> JSONResponse:
    shop, body = _shop(request), await _json_object(request)
    email, password, ttl = _text(body, "email"), _text(body, "password"), _ttl(body)
    user = next((u for u in shop.users.values() if u["email"] == email.lower()), None)
    # Compare in constant time, and the same way for unknown emails, like a real service.
    good = secrets.compare_digest(password.encode(), shop.password.encode())
    if user is None or not good:
        raise ApiError(401, "invalid_credentials", "wrong email or password")
    session = Session(user_id=user["id"])
    shop.refresh[session.refresh_token] = session
    payload = shop.issue(session, ttl) | {
        "refresh_token": session.refresh_token,
        "user_id": user["id"],
        "session_id": session.session_id,
    }
    response = JSONResponse(payload, headers={"Cache-Control": "no-store"})
    response.set_cookie("shop_session", session.session_id, httponly=True, samesite="lax")
    return response


async def refresh(request: Request) -> JSONResponse:
    shop, body = _shop(request), await _json_object(request)
    session = shop.refresh.get(_text(body, "refresh_token"))
    if session is None:
        raise ApiError(401, "invalid_refresh_token", "the refresh token is not valid")
    return JSONResponse(shop.issue(session, _ttl(body)), headers={"Cache-Control": "no-store"})


async def profile(request: Request) -> JSONResponse:
    shop = _shop(request)
    user = shop.users[shop.session(request).user_id]
    if request.method == "PUT":
        body = await _json_object(request)
        if "id" in body and body["id"] != user["id"]:
            raise ApiError(403, "forbidden", "you can only change your own profile")
        if "email" in body:
            raise ApiError(422, "validation_error", "the email cannot be changed here")
        unknown = sorted(set(body) - {"id", "name", "phone", "newsletter"})
        if unknown:
            raise ApiError(422, "validation_error", f"unknown fields: {', '.join(unknown)}")
        changes: dict[str, Any] = {k: body[k] for k in ("name", "phone", "newsletter") if k in body}
        # Validate everything before changing anything: a 422 leaves the profile as it was.
        if "name" in changes:
            changes["name"] = _text(body, "name")[:100]
        if changes.get("phone") is not None and not isinstance(changes["phone"], str):
            raise ApiError(422, "validation_error", "'phone' must be a string or null")
        if "newsletter" in changes and not isinstance(changes["newsletter"], bool):
            raise ApiError(422, "validation_error", "'newsletter' must be true or false")
        user.update(changes)
        user["updated_at"] = datetime.now(UTC).isoformat()
    return JSONResponse(user)


async def catalog(request: Request) -> JSONResponse:
    _shop(request).session(request)
    products = [p.to_json() for p in PRODUCTS.values()]
    return JSONResponse({"products": products, "count": len(products)})


async def product(request: Request) -> JSONResponse:
    _shop(request).session(request)
    found = PRODUCTS.get(request.path_params["product_id"])
    if found is None:
        raise ApiError(404, "not_found", "no such product")
    return JSONResponse(found.to_json())


async def cart(request: Request) -> JSONResponse:
    shop = _shop(request)
    return JSONResponse(shop.cart_json(shop.session(request)))


async def add_item(request: Request) -> JSONResponse:
    shop = _shop(request)
    session, body = shop.session(request), await _json_object(request)
    found = PRODUCTS.get(_text(body, "product_id"))
    if found is None:
        raise ApiError(404, "not_found", "no such product")
    quantity = _integer(body.get("quantity"), "quantity", 1, found.stock)
    session.cart[found.id] = quantity
    return JSONResponse(shop.cart_json(session), status_code=201, headers={"Location": "/cart"})


async def remove_item(request: Request) -> JSONResponse:
    shop = _shop(request)
    session = shop.session(request)
    if session.cart.pop(request.path_params["product_id"], None) is None:
        raise ApiError(404, "not_found", "that product is not in the cart")
    return JSONResponse(shop.cart_json(session))


async def checkout(request: Request) -> JSONResponse:
    shop = _shop(request)
    session = shop.session(request)
    if not session.cart:
        raise ApiError(409, "empty_cart", "add items to the cart before checking out")
    cart_json = shop.cart_json(session)
    order = {
        "order_id": str(uuid.uuid4()),
        "user_id": session.user_id,
        "status": "confirmed",
        "items": cart_json["items"],
        "total": cart_json["total"],
        "currency": "EUR",
        "created_at": datetime.now(UTC).isoformat(),
    }
    shop.orders[order["order_id"]] = order
    session.cart.clear()
    return JSONResponse(
        order, status_code=201, headers={"Location": f"/orders/{order['order_id']}"}
    )


async def get_order(request: Request) -> JSONResponse:
    shop = _shop(request)
    session = shop.session(request)
    order = shop.orders.get(request.path_params["order_id"])
    # Another user's order answers 404, not 403: its existence is not theirs to know.
    if order is None or order["user_id"] != session.user_id:
        raise ApiError(404, "not_found", "no such order")
    return JSONResponse(order)


async def flaky(request: Request) -> JSONResponse:
    shop, key = _shop(request), request.path_params["key"]
    fail = _integer(request.query_params.get("fail", "1"), "fail", 0, MAX_FLAKY_FAILURES)
    attempt = shop.flaky[key] = shop.flaky.get(key, 0) + 1
    if attempt <= fail:
        return JSONResponse(
            {"error": "unavailable", "message": "try again", "attempt": attempt},
            status_code=503,
            headers={"Retry-After": "0"},
        )
    return JSONResponse({"key": key, "attempts": attempt})


async def slow(request: Request) -> JSONResponse:
    ms = _integer(request.query_params.get("ms", "100"), "ms", 0, MAX_SLOW_MS)
    await asyncio.sleep(ms / 1000)
    return JSONResponse({"slept_ms": ms})


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        {"error": exc.code, "message": exc.message}, status_code=exc.status, headers=exc.headers
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # Unknown routes and wrong methods answer JSON too, like the rest of the API.
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": code, "message": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


def create_app(
    *, password: str | None = None, clock: Callable[[], float] = time.monotonic
) -> Starlette:
    """A fresh shop; ``password`` defaults to ``$SHOP_DEMO_PASSWORD`` or the demo one."""
    shop = Shop(
        password=password or os.environ.get("SHOP_DEMO_PASSWORD", DEFAULT_PASSWORD), clock=clock
    )
    for user_id, email, name in SEED_USERS:
        shop.users[user_id] = {
            "id": user_id,
            "email": email,
            "name": name,
            "phone": None,
            "newsletter": False,
            "updated_at": None,
        }
    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/auth/login", login, methods=["POST"]),
            Route("/auth/refresh", refresh, methods=["POST"]),
            Route("/profile", profile, methods=["GET", "PUT"]),
            Route("/catalog", catalog),
            Route("/catalog/{product_id}", product),
            Route("/cart", cart),
            Route("/cart/items", add_item, methods=["POST"]),
            Route("/cart/items/{product_id}", remove_item, methods=["DELETE"]),
            Route("/checkout", checkout, methods=["POST"]),
            Route("/orders/{order_id}", get_order),
            Route("/flaky/{key}", flaky),
            Route("/slow", slow),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.shop = shop
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the demo shop API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    import uvicorn  # only the server needs it; importing the app must stay light

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
