"""The demo shop API, driven in-process, and the example suite that targets it."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
import yaml

from runner.models import CheckOp, Suite, ValueCheck
from support import load_example

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALICE = "alice@example.com"
BOB = "bob@example.com"
PASSWORD = "demo-password"


shop_api = load_example("shop_api")


class FakeClock:
    """A clock the test moves by hand, so expiry needs no waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = shop_api.create_app(password=PASSWORD, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as c:
        yield c


async def _login(client: httpx.AsyncClient, email: str = ALICE, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/auth/login", json={"email": email, "password": PASSWORD, **extra}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _auth(client: httpx.AsyncClient, email: str = ALICE) -> dict[str, str]:
    return _bearer((await _login(client, email))["access_token"])


# ------------------------------------------------------------------------ auth


async def test_health_answers_ok(client: httpx.AsyncClient) -> None:
    """/health answers 200 without a token."""
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_login_returns_tokens_and_user_id(client: httpx.AsyncClient) -> None:
    """A good login returns bearer tokens, the user's fixed id and a session cookie."""
    response = await client.post("/auth/login", json={"email": ALICE, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == shop_api.DEFAULT_TTL_S
    assert body["user_id"] == shop_api.SEED_USERS[0][0]
    assert len(body["access_token"]) >= 20 and len(body["refresh_token"]) >= 20
    assert response.headers["cache-control"] == "no-store"
    assert response.cookies["shop_session"] == body["session_id"]
    again = await _login(client)
    assert again["access_token"] != body["access_token"]


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        ({"email": ALICE, "password": "wrong"}, 401, "invalid_credentials"),
        ({"email": "nobody@example.com", "password": PASSWORD}, 401, "invalid_credentials"),
        ({"email": ALICE}, 422, "validation_error"),
        ({"password": PASSWORD}, 422, "validation_error"),
        ({"email": ALICE, "password": PASSWORD, "ttl_seconds": -1}, 422, "validation_error"),
    ],
)
async def test_login_refuses_bad_input(
    client: httpx.AsyncClient, payload: dict[str, Any], status: int, error: str
) -> None:
    """Wrong credentials are a 401, missing or invalid fields a 422, both JSON."""
    response = await client.post("/auth/login", json=payload)
    assert response.status_code == status
    assert response.json()["error"] == error


async def test_login_refuses_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    """A body that is not JSON is a 400 invalid_json."""
    response = await client.post("/auth/login", content=b"email=alice")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


async def test_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """$SHOP_DEMO_PASSWORD replaces the demo password."""
    monkeypatch.setenv("SHOP_DEMO_PASSWORD", "from-env")
    transport = httpx.ASGITransport(app=shop_api.create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as c:
        good = await c.post("/auth/login", json={"email": BOB, "password": "from-env"})
        old = await c.post("/auth/login", json={"email": BOB, "password": PASSWORD})
    assert (good.status_code, old.status_code) == (200, 401)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Basic abc"}, "missing_token"),
        ({"Authorization": "Bearer made-up"}, "invalid_token"),
    ],
)
async def test_missing_or_bad_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str], error: str
) -> None:
    """A missing, non-bearer or unknown token is a 401 with a JSON error and WWW-Authenticate."""
    response = await client.get("/profile", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == error
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_token_expires_after_its_ttl(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """A token works until ttl_seconds have passed, then is a 401 token_expired."""
    auth = _bearer((await _login(client, ttl_seconds=60))["access_token"])
    clock.now += 59
    assert (await client.get("/profile", headers=auth)).status_code == 200
    clock.now += 1
    response = await client.get("/profile", headers=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "token_expired"


async def test_zero_ttl_token_is_expired_at_once(client: httpx.AsyncClient) -> None:
    """ttl_seconds 0 gives a token that is already expired (for suites to test expiry)."""
    auth = _bearer((await _login(client, ttl_seconds=0))["access_token"])
    response = await client.get("/cart", headers=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "token_expired"


async def test_refresh_issues_a_new_access_token(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """The refresh token yields a working access token even after the old one expired."""
    login = await _login(client, ttl_seconds=10)
    clock.now += 11
    response = await client.post("/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"] != login["access_token"]
    profile = await client.get("/profile", headers=_bearer(body["access_token"]))
    assert profile.json()["id"] == login["user_id"]


async def test_refresh_refuses_an_unknown_token(client: httpx.AsyncClient) -> None:
    """An unknown refresh token is a 401; a missing one a 422."""
    bad = await client.post("/auth/refresh", json={"refresh_token": "nope"})
    missing = await client.post("/auth/refresh", json={})
    assert (bad.status_code, missing.status_code) == (401, 422)


# --------------------------------------------------------------------- profile


async def test_profile_update_returns_the_users_profile(client: httpx.AsyncClient) -> None:
    """PUT /profile changes name/phone/newsletter and returns the profile with id == user_id."""
    login = await _login(client)
    auth = _bearer(login["access_token"])
    response = await client.put(
        "/profile",
        headers=auth,
        json={"id": login["user_id"], "name": "Alice B", "phone": "+33 1", "newsletter": True},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == login["user_id"]
    assert (body["name"], body["phone"], body["newsletter"]) == ("Alice B", "+33 1", True)
    assert (await client.get("/profile", headers=auth)).json()["name"] == "Alice B"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"id": "someone-else"}, 403),
        ({"email": "new@example.com"}, 422),
        ({"role": "admin"}, 422),
        ({"name": ""}, 422),
        ({"newsletter": "yes"}, 422),
    ],
)
async def test_profile_update_refuses(
    client: httpx.AsyncClient, payload: dict[str, Any], status: int
) -> None:
    """Another user's id is a 403; email changes, unknown fields and bad values a 422."""
    response = await client.put("/profile", headers=await _auth(client), json=payload)
    assert response.status_code == status


async def test_refused_profile_update_changes_nothing(client: httpx.AsyncClient) -> None:
    """A 422 on one field leaves the other fields of the profile unchanged."""
    auth = await _auth(client)
    refused = await client.put("/profile", headers=auth, json={"name": "X", "newsletter": "yes"})
    assert refused.status_code == 422
    assert (await client.get("/profile", headers=auth)).json()["name"] == "Alice Martin"


# --------------------------------------------------------------------- catalog


async def test_catalog_is_fixed_and_needs_a_token(client: httpx.AsyncClient) -> None:
    """The catalog lists the fixed products in order, and only with a token."""
    assert (await client.get("/catalog")).status_code == 401
    response = await client.get("/catalog", headers=await _auth(client))
    assert response.status_code == 200
    products = response.json()["products"]
    assert [p["id"] for p in products] == list(shop_api.PRODUCTS)
    assert products[0] == {
        "id": "prod-keyboard",
        "name": "Mechanical keyboard",
        "price": 89.9,
        "currency": "EUR",
        "stock": 5,
    }


async def test_catalog_item_by_id(client: httpx.AsyncClient) -> None:
    """GET /catalog/{id} returns one product, or a JSON 404."""
    auth = await _auth(client)
    found = await client.get("/catalog/prod-mouse", headers=auth)
    missing = await client.get("/catalog/prod-nope", headers=auth)
    assert found.json()["price"] == 24.5
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


# ------------------------------------------------------------------------ cart


async def test_add_to_cart_returns_the_cart(client: httpx.AsyncClient) -> None:
    """Adding items answers 201 with the cart, its lines and an exact total."""
    auth = await _auth(client)
    await client.post(
        "/cart/items", headers=auth, json={"product_id": "prod-keyboard", "quantity": 2}
    )
    response = await client.post(
        "/cart/items", headers=auth, json={"product_id": "prod-cable", "quantity": 3}
    )
    assert response.status_code == 201
    assert response.headers["location"] == "/cart"
    cart = response.json()
    assert cart["total"] == 209.77  # 2 x 89.90 + 3 x 9.99, without float drift
    assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [
        ("prod-keyboard", 2),
        ("prod-cable", 3),
    ]
    assert (await client.get("/cart", headers=auth)).json() == cart


async def test_posting_a_product_again_sets_its_quantity(client: httpx.AsyncClient) -> None:
    """A second POST of the same product replaces the quantity, so retries are harmless."""
    auth = await _auth(client)
    for quantity in (3, 1):
        response = await client.post(
            "/cart/items", headers=auth, json={"product_id": "prod-monitor", "quantity": quantity}
        )
    assert response.json()["items"][0]["quantity"] == 1
    assert response.json()["total"] == 219.0


@pytest.mark.parametrize(
    ("quantity", "status"),
    [(0, 422), (-1, 422), (1, 201), (3, 201), (4, 422), ("3", 201), ("x", 422), (True, 422)],
)
async def test_cart_quantity_boundary(
    client: httpx.AsyncClient, quantity: object, status: int
) -> None:
    """Quantities 1..stock are accepted (integer strings too); others are a 422."""
    response = await client.post(
        "/cart/items",
        headers=await _auth(client),
        json={"product_id": "prod-monitor", "quantity": quantity},
    )
    assert response.status_code == status


async def test_unknown_product_is_404(client: httpx.AsyncClient) -> None:
    """Adding a product that does not exist is a 404."""
    response = await client.post(
        "/cart/items", headers=await _auth(client), json={"product_id": "prod-x", "quantity": 1}
    )
    assert response.status_code == 404


async def test_remove_item(client: httpx.AsyncClient) -> None:
    """DELETE removes a line; removing one that is not there is a 404."""
    auth = await _auth(client)
    await client.post("/cart/items", headers=auth, json={"product_id": "prod-mouse", "quantity": 1})
    removed = await client.delete("/cart/items/prod-mouse", headers=auth)
    again = await client.delete("/cart/items/prod-mouse", headers=auth)
    assert removed.status_code == 200 and removed.json()["items"] == []
    assert again.status_code == 404


async def test_each_login_has_its_own_cart(client: httpx.AsyncClient) -> None:
    """Carts belong to sessions, so a new login (or another user) starts empty."""
    first = await _auth(client)
    await client.post(
        "/cart/items", headers=first, json={"product_id": "prod-mouse", "quantity": 1}
    )
    second = await _auth(client)
    bob = await _auth(client, BOB)
    assert (await client.get("/cart", headers=second)).json()["items"] == []
    assert (await client.get("/cart", headers=bob)).json()["items"] == []
    assert len((await client.get("/cart", headers=first)).json()["items"]) == 1


# -------------------------------------------------------------------- checkout


async def test_checkout_confirms_the_order_and_empties_the_cart(
    client: httpx.AsyncClient,
) -> None:
    """Checkout answers 201 with a confirmed order, empties the cart; a second one is a 409."""
    login = await _login(client)
    auth = _bearer(login["access_token"])
    await client.post("/cart/items", headers=auth, json={"product_id": "prod-mouse", "quantity": 2})
    response = await client.post("/checkout", headers=auth)
    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["total"], order["user_id"]) == (
        "confirmed",
        49.0,
        login["user_id"],
    )
    assert response.headers["location"] == f"/orders/{order['order_id']}"
    assert (await client.get("/cart", headers=auth)).json()["items"] == []
    assert (await client.get(f"/orders/{order['order_id']}", headers=auth)).json() == order
    empty = await client.post("/checkout", headers=auth)
    assert empty.status_code == 409 and empty.json()["error"] == "empty_cart"


async def test_another_users_order_is_404(client: httpx.AsyncClient) -> None:
    """An order is visible only to the user who placed it."""
    alice = await _auth(client)
    await client.post(
        "/cart/items", headers=alice, json={"product_id": "prod-cable", "quantity": 1}
    )
    order_id = (await client.post("/checkout", headers=alice)).json()["order_id"]
    response = await client.get(f"/orders/{order_id}", headers=await _auth(client, BOB))
    assert response.status_code == 404


# ------------------------------------------------------------- test behaviours


async def test_flaky_fails_n_times_per_key_then_succeeds(client: httpx.AsyncClient) -> None:
    """/flaky/{key}?fail=2 answers 503, 503, then 200; each key counts on its own."""
    statuses = [(await client.get("/flaky/a", params={"fail": 2})).status_code for _ in range(3)]
    other = await client.get("/flaky/b", params={"fail": 2})
    last = await client.get("/flaky/a", params={"fail": 2})
    assert statuses == [503, 503, 200]
    assert other.status_code == 503
    assert last.json() == {"key": "a", "attempts": 4}


async def test_slow_waits_and_caps(client: httpx.AsyncClient) -> None:
    """/slow?ms=N answers after N ms; N above the cap is a 422."""
    assert (await client.get("/slow", params={"ms": 0})).json() == {"slept_ms": 0}
    too_slow = await client.get("/slow", params={"ms": shop_api.MAX_SLOW_MS + 1})
    assert too_slow.status_code == 422


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    """Unknown routes and wrong methods answer JSON errors like the rest of the API."""
    missing = await client.get("/nope")
    wrong_method = await client.get("/checkout")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"


async def test_each_app_has_fresh_state() -> None:
    """Two apps share nothing: a token of one is unknown to the other."""
    a = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shop_api.create_app()), base_url="http://a"
    )
    b = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shop_api.create_app()), base_url="http://b"
    )
    async with a, b:
        auth = await _auth(a)
        assert (await a.get("/profile", headers=auth)).status_code == 200
        assert (await b.get("/profile", headers=auth)).status_code == 401


# ------------------------------------------------------------- example suite


def _suite() -> Suite:
    data = yaml.safe_load((EXAMPLES / "shop.yaml").read_text(encoding="utf-8"))
    return Suite.model_validate(data)


def test_shop_suite_is_a_valid_suite() -> None:
    """examples/shop.yaml parses and validates against runner.models.Suite."""
    suite = _suite()
    ids = [t.id for t in suite.tests]
    assert len(ids) == len(set(ids))
    for test in suite.tests:
        for dep in test.depends_on:
            assert dep.test in ids, f"{test.id} depends on unknown {dep.test}"
    service = suite.services[0]
    assert service.command[0] == "{python}"
    assert (EXAMPLES / (service.cwd or ".") / "shop_api.py").is_file()
    assert (
        (EXAMPLES / "shop.yaml")
        .read_text(encoding="utf-8")
        .startswith("# yaml-language-server: $schema=../docs/suite.schema.json")
    )


def test_shop_suite_csv_fixture_matches_the_catalog() -> None:
    """The CSV-driven test's file exists and names real products."""
    suite = _suite()
    files = [t.data for t in suite.tests if isinstance(t.data, str)]
    assert files == ["fixtures/products.csv"]
    with (EXAMPLES / files[0]).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows
    for row in rows:
        assert shop_api.PRODUCTS[row["product_id"]].name == row["name"]


def test_shop_suite_uses_every_check_kind() -> None:
    """The example shows every check: status forms, header forms, json ops, schema, timing."""
    suite = _suite()
    checks = [t.checks for t in suite.tests]
    status_forms = {type(c.status).__name__ for c in checks if c.status is not None}
    assert status_forms == {"int", "list", "StatusRange"}
    header_values = [v for c in checks for v in c.headers.values()]
    assert any(isinstance(v, str) for v in header_values)
    assert any(isinstance(v, ValueCheck) and v.op == "contains" for v in header_values)
    ops = {j.op for c in checks for j in c.json_checks}
    assert ops == set(get_args(CheckOp))
    assert any(c.json_schema for c in checks)
    assert any(c.max_response_ms for c in checks)
    sources = {cap.source for t in suite.tests for cap in t.captures.values()}
    assert sources == {"json", "header", "cookie", "status", "regex"}
    assert {t.data.__class__ for t in suite.tests if t.data} == {list, str}
