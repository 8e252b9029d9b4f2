"""``/auth/v1`` edges over plain HTTP: admin validation, paging, soft delete, token and logout."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from support_serve import ServeHandle

pytestmark = pytest.mark.db
PASSWORD = "correct-horse-battery"
DATED = {"X-Supabase-Api-Version": "2024-01-01"}


@pytest.fixture
async def http(serve: ServeHandle) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on /auth/v1 with the anon key and the dated error format."""
    headers = {"apikey": serve.anon_key, **DATED}
    async with httpx.AsyncClient(base_url=f"{serve.url}/auth/v1", headers=headers) as client:
        yield client


def admin(serve: ServeHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {serve.service_role_key}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def create(
    http: httpx.AsyncClient, serve: ServeHandle, email: str, **extra: Any
) -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD, "email_confirm": True, **extra}
    response = await http.post("/admin/users", json=body, headers=admin(serve))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post(
        "/token?grant_type=password", json={"email": email, "password": password}
    )


async def test_admin_create_validates_and_accepts_no_password(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """Non-string password or role is 400; without a password the user exists but cannot sign in."""
    bad_password = await http.post(
        "/admin/users", json={"email": "a@example.com", "password": 5}, headers=admin(serve)
    )
    assert error(bad_password) == (400, "validation_failed")
    bad_role = await http.post(
        "/admin/users", json={"email": "a@example.com", "role": ["x"]}, headers=admin(serve)
    )
    assert error(bad_role) == (400, "validation_failed")
    chosen = str(uuid.uuid4())
    user = await create(
        http, serve, "NoPass@Example.com", password=None, id=chosen, app_metadata={"plan": "pro"}
    )
    assert user["id"] == chosen and user["email"] == "nopass@example.com"
    assert user["app_metadata"]["plan"] == "pro"
    assert error(await sign_in(http, "nopass@example.com")) == (400, "invalid_credentials")


async def test_admin_list_pages_and_skips_soft_deleted(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """page/per_page page the users with X-Total-Count; a soft-deleted user is gone for good."""
    ids = [(await create(http, serve, f"u{i}@example.com"))["id"] for i in range(3)]
    page = await http.get("/admin/users?page=2&per_page=2", headers=admin(serve))
    assert page.status_code == 200 and page.headers["X-Total-Count"] == "3"
    assert len(page.json()["users"]) == 1
    defaults = await http.get("/admin/users?page=0&per_page=", headers=admin(serve))
    assert {u["id"] for u in defaults.json()["users"]} == set(ids)
    bad = await http.get("/admin/users?per_page=lots", headers=admin(serve))
    assert error(bad) == (400, "validation_failed")
    soft = await http.request(
        "DELETE", f"/admin/users/{ids[0]}", json={"should_soft_delete": True}, headers=admin(serve)
    )
    assert soft.status_code == 200
    assert error(await http.get(f"/admin/users/{ids[0]}", headers=admin(serve))) == (
        404,
        "user_not_found",
    )
    again = await http.request(
        "DELETE", f"/admin/users/{ids[0]}", json={"should_soft_delete": True}, headers=admin(serve)
    )
    assert error(again) == (404, "user_not_found")
    listed = await http.get("/admin/users", headers=admin(serve))
    assert ids[0] not in {u["id"] for u in listed.json()["users"]}
    assert error(await sign_in(http, "u0@example.com")) == (400, "invalid_credentials")


async def test_admin_unknown_and_malformed_user_ids_are_404(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """GET, PUT and DELETE of a missing or non-UUID user id answer 404 user_not_found."""
    for user_id in (str(uuid.uuid4()), "not-a-uuid"):
        got = await http.get(f"/admin/users/{user_id}", headers=admin(serve))
        put = await http.put(f"/admin/users/{user_id}", json={}, headers=admin(serve))
        gone = await http.delete(f"/admin/users/{user_id}", headers=admin(serve))
        for response in (got, put, gone):
            assert error(response) == (404, "user_not_found"), user_id


async def test_admin_update_password_role_and_app_metadata(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """PUT changes the password (old one stops working), merges app_metadata, keeps user data."""
    user = await create(http, serve, "up@example.com", user_metadata={"a": 1})
    url = f"/admin/users/{user['id']}"
    bad = await http.put(url, json={"password": 123}, headers=admin(serve))
    assert error(bad) == (400, "validation_failed")
    changed = await http.put(
        url,
        json={"password": "another-long-passphrase", "app_metadata": {"tier": "gold"}},
        headers=admin(serve),
    )
    assert changed.status_code == 200
    body = changed.json()
    assert body["app_metadata"]["tier"] == "gold" and body["app_metadata"]["provider"] == "email"
    assert body["user_metadata"] == user["user_metadata"]
    assert error(await sign_in(http, "up@example.com")) == (400, "invalid_credentials")
    assert (await sign_in(http, "up@example.com", "another-long-passphrase")).status_code == 200


async def test_signup_and_token_requests_that_are_refused(http: httpx.AsyncClient) -> None:
    """Phone sign-up, no password, unknown grant, no refresh token, no email: GoTrue's errors."""
    phone = await http.post("/signup", json={"phone": "+15550100", "password": PASSWORD})
    assert error(phone) == (400, "phone_provider_disabled")
    no_password = await http.post("/signup", json={"email": "p@example.com"})
    assert error(no_password) == (400, "validation_failed")
    assert error(await http.post("/token?grant_type=magic", json={})) == (400, "validation_failed")
    no_refresh = await http.post("/token?grant_type=refresh_token", json={})
    assert error(no_refresh) == (400, "refresh_token_not_found")
    no_email = await http.post("/token?grant_type=password", json={"password": PASSWORD})
    assert error(no_email) == (400, "invalid_credentials")


async def test_request_bodies_must_be_json_objects(http: httpx.AsyncClient) -> None:
    """A body that is not JSON or not an object is 400 bad_json; an empty body counts as {}."""
    for content in (b"{nope", b"[1, 2]"):
        response = await http.post(
            "/signup", content=content, headers={"Content-Type": "application/json"}
        )
        assert error(response) == (400, "bad_json")
    assert error(await http.post("/signup", content=b"  ")) == (400, "validation_failed")


async def test_user_update_keeps_data_and_refuses_a_taken_email(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """PUT /user with only an email keeps metadata; another user's email is 422 email_exists."""
    await create(http, serve, "taken@example.com")
    signup = await http.post(
        "/signup", json={"email": "me@example.com", "password": PASSWORD, "data": {"k": "v"}}
    )
    token = signup.json()["access_token"]
    same = await http.put("/user", json={"email": "me@example.com"}, headers=bearer(token))
    assert same.status_code == 200 and same.json()["user_metadata"]["k"] == "v"
    taken = await http.put("/user", json={"email": "taken@example.com"}, headers=bearer(token))
    assert error(taken) == (422, "email_exists")
    bad = await http.put("/user", json={"password": ["x"]}, headers=bearer(token))
    assert error(bad) == (400, "validation_failed")


async def test_tokens_naming_no_user_or_session_are_refused(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """A token without sub, with a non-UUID sub, or naming an unknown user is 403."""
    exp = int(time.time()) + 600
    base = {"role": "authenticated", "aud": "authenticated", "exp": exp}
    cases = {
        "bad_jwt": [
            base,
            {**base, "sub": "me"},
            {**base, "sub": str(uuid.uuid4()), "session_id": 7},
        ],
        "user_not_found": [{**base, "sub": str(uuid.uuid4())}],
        "session_not_found": [{**base, "sub": str(uuid.uuid4()), "session_id": str(uuid.uuid4())}],
    }
    for code, claim_sets in cases.items():
        for claims in claim_sets:
            response = await http.get("/user", headers=bearer(serve.keys.sign(claims)))
            assert error(response) == (403, code), claims


async def test_logout_scopes(http: httpx.AsyncClient, serve: ServeHandle) -> None:
    """An unknown scope is 400; local logout of a token without a session keeps the sessions."""
    user = await create(http, serve, "out@example.com")
    session = (await sign_in(http, "out@example.com")).json()
    token = session["access_token"]
    bad = await http.post("/logout?scope=everywhere", headers=bearer(token))
    assert error(bad) == (400, "validation_failed")
    exp = int(time.time()) + 600
    sessionless = serve.keys.sign({"sub": user["id"], "role": "authenticated", "exp": exp})
    local = await http.post("/logout?scope=local", headers=bearer(sessionless))
    assert local.status_code == 204
    assert (await http.get("/user", headers=bearer(token))).status_code == 200
    others = await http.post("/logout?scope=others", headers=bearer(token))
    assert others.status_code == 204
    assert (await http.get("/user", headers=bearer(token))).status_code == 200
    assert (await http.post("/logout", headers=bearer(token))).status_code == 204
    assert error(await http.get("/user", headers=bearer(token))) == (403, "session_not_found")


async def test_admin_create_refuses_ids_that_are_not_uuid_strings(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """An id that is a number or a non-UUID string is 400 validation_failed, not a crash."""
    for bad_id in (5, "not-a-uuid", ["x"]):
        response = await http.post(
            "/admin/users", json={"email": "id@example.com", "id": bad_id}, headers=admin(serve)
        )
        assert error(response) == (400, "validation_failed"), bad_id


async def test_a_database_error_is_a_500_that_echoes_nothing(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """A value the database refuses (a 300-character role) is 500 'Database error', no echo."""
    role = "r" * 300
    response = await http.post(
        "/admin/users", json={"email": "db@example.com", "role": role}, headers=admin(serve)
    )
    assert response.status_code == 500
    assert response.json() == {"code": "unexpected_failure", "message": "Database error"}
    listed = await http.get("/admin/users", headers=admin(serve))
    assert listed.json()["users"] == []


async def test_passwords_over_72_bytes_and_foreign_hashes(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """A password over bcrypt's 72 bytes is refused; a stored non-bcrypt hash never signs in."""
    long = await http.post("/signup", json={"email": "l@example.com", "password": "é" * 37})
    assert error(long) == (422, "validation_failed")
    user = await create(http, serve, "imported@example.com")
    with psycopg.connect(serve.db_url, autocommit=True) as conn:
        conn.execute(
            "update auth.users set encrypted_password = 'md5-from-elsewhere' where id = %s",
            (user["id"],),
        )
    assert error(await sign_in(http, "imported@example.com")) == (400, "invalid_credentials")


async def test_admin_create_refuses_bad_emails_and_metadata(
    http: httpx.AsyncClient, serve: ServeHandle
) -> None:
    """An address without a domain or non-object metadata is 400 validation_failed."""
    for body in (
        {"email": "not-an-address"},
        {"email": "m@example.com", "user_metadata": ["a"]},
        {"email": "m@example.com", "app_metadata": "x"},
    ):
        response = await http.post("/admin/users", json=body, headers=admin(serve))
        assert error(response) == (400, "validation_failed"), body


async def test_user_changes_email_and_removes_data_keys(http: httpx.AsyncClient) -> None:
    """PUT /user moves the account (and its identity) to a new email; a null data key is removed."""
    signup = await http.post(
        "/signup",
        json={"email": "old@example.com", "password": PASSWORD, "data": {"keep": 1, "drop": 2}},
    )
    token = signup.json()["access_token"]
    moved = await http.put(
        "/user", json={"email": "New@Example.com", "data": {"drop": None}}, headers=bearer(token)
    )
    assert moved.status_code == 200
    body = moved.json()
    assert body["email"] == "new@example.com"
    assert body["user_metadata"]["keep"] == 1 and "drop" not in body["user_metadata"]
    assert error(await sign_in(http, "old@example.com")) == (400, "invalid_credentials")
    assert (await sign_in(http, "new@example.com")).status_code == 200
