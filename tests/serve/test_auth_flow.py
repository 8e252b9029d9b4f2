"""``/auth/v1`` against the official supabase-py auth client: the password flow end to end."""

from __future__ import annotations

import httpx
import jwt
import psycopg
import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from support_rest import PASSWORD, anon_client, new_user, service_client, signed_in
from support_serve import JWT_SECRET, ServeHandle


async def test_sign_up_returns_a_session_with_supabase_claims(serve: ServeHandle) -> None:
    """Sign-up auto-confirms, returns a session, and the access token carries Supabase's claims."""
    client = await anon_client(serve)
    result = await client.auth.sign_up(
        {"email": "Ada@Example.com", "password": PASSWORD, "options": {"data": {"team": "qa"}}}
    )
    assert result.session is not None and result.user is not None
    assert result.user.email == "ada@example.com"
    assert result.user.user_metadata["team"] == "qa"
    assert result.user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert result.user.email_confirmed_at is not None
    assert result.session.token_type == "bearer" and result.session.expires_in == 3600
    claims = jwt.decode(
        result.session.access_token, JWT_SECRET, algorithms=["HS256"], audience="authenticated"
    )
    assert claims["sub"] == result.user.id
    assert claims["role"] == "authenticated" and claims["aal"] == "aal1"
    assert claims["email"] == "ada@example.com" and claims["is_anonymous"] is False
    assert claims["app_metadata"]["provider"] == "email"
    assert claims["amr"][0]["method"] == "password"
    assert claims["iss"] == f"{serve.url}/auth/v1"
    assert claims["exp"] - claims["iat"] == 3600
    assert {"session_id", "user_metadata", "phone"} <= claims.keys()


async def test_sign_up_stores_a_bcrypt_hash_and_a_profile(serve: ServeHandle) -> None:
    """The account lands in auth.users with a bcrypt hash, an email identity and a profile."""
    client = await anon_client(serve)
    result = await client.auth.sign_up({"email": "bo@example.com", "password": PASSWORD})
    assert result.user is not None
    with psycopg.connect(serve.db_url) as conn:
        stored = conn.execute(
            "select encrypted_password from auth.users where id = %s", (result.user.id,)
        ).fetchone()
        identity = conn.execute(
            "select provider from auth.identities where user_id = %s", (result.user.id,)
        ).fetchone()
        profile = conn.execute(
            "select email from public.users where id = %s", (result.user.id,)
        ).fetchone()
    assert stored is not None and stored[0].startswith("$2") and PASSWORD not in stored[0]
    assert identity == ("email",)
    assert profile == ("bo@example.com",)


async def test_duplicate_sign_up_and_weak_password_are_refused(serve: ServeHandle) -> None:
    """A taken email is 422 user_already_exists; a short password is 422 weak_password."""
    client = await anon_client(serve)
    await client.auth.sign_up({"email": "cy@example.com", "password": PASSWORD})
    with pytest.raises(AuthApiError) as taken:
        await client.auth.sign_up({"email": "CY@example.com", "password": PASSWORD})
    assert taken.value.status == 422 and taken.value.code == "user_already_exists"
    assert taken.value.message == "User already registered"
    with pytest.raises(AuthWeakPasswordError) as weak:
        await client.auth.sign_up({"email": "dee@example.com", "password": "123"})
    assert weak.value.status == 422 and weak.value.reasons == ["length"]


async def test_password_sign_in_and_wrong_password(serve: ServeHandle) -> None:
    """The password grant signs in; a wrong password or unknown email is 400 invalid_credentials."""
    service = await service_client(serve)
    user_id, email = await new_user(service)
    client = await signed_in(serve, email)
    session = await client.auth.get_session()
    assert session is not None and session.user.id == user_id
    for who, password in ((email, "wrong-password"), ("nobody@example.com", PASSWORD)):
        with pytest.raises(AuthApiError) as bad:
            await (await anon_client(serve)).auth.sign_in_with_password(
                {"email": who, "password": password}
            )
        assert bad.value.status == 400 and bad.value.code == "invalid_credentials"
        assert bad.value.message == "Invalid login credentials"


async def test_refresh_rotates_and_a_reused_token_ends_the_session(serve: ServeHandle) -> None:
    """Refresh rotates the token; presenting the old one again fails and ends the session."""
    service = await service_client(serve)
    _, email = await new_user(service)
    client = await signed_in(serve, email)
    first = await client.auth.get_session()
    assert first is not None
    refreshed = await client.auth.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != first.refresh_token
    assert refreshed.session.user.email == email
    other = await anon_client(serve)
    with pytest.raises(AuthApiError) as reused:
        await other.auth.refresh_session(first.refresh_token)
    assert reused.value.code == "refresh_token_already_used"
    # reuse detection revoked the whole session: the current token is gone too
    with pytest.raises(AuthApiError) as gone:
        await other.auth.refresh_session(refreshed.session.refresh_token)
    assert gone.value.code == "refresh_token_not_found"


async def test_get_and_update_user(serve: ServeHandle) -> None:
    """GET /user returns the account; PUT /user merges metadata and changes the password."""
    service = await service_client(serve)
    user_id, email = await new_user(service)
    client = await signed_in(serve, email)
    got = await client.auth.get_user()
    assert got is not None and got.user.id == user_id and got.user.identities
    updated = await client.auth.update_user(
        {"data": {"theme": "dark"}, "password": "new-password-1"}
    )
    assert updated.user.user_metadata["theme"] == "dark"
    again = await anon_client(serve)
    signed = await again.auth.sign_in_with_password({"email": email, "password": "new-password-1"})
    assert signed.user is not None and signed.user.user_metadata["theme"] == "dark"


async def test_sign_out_revokes_the_session(serve: ServeHandle) -> None:
    """After sign-out the refresh token is dead and the old access token has no session."""
    service = await service_client(serve)
    _, email = await new_user(service)
    client = await signed_in(serve, email)
    session = await client.auth.get_session()
    assert session is not None
    await client.auth.sign_out()
    assert await client.auth.get_session() is None
    other = await anon_client(serve)
    with pytest.raises(AuthApiError) as refresh:
        await other.auth.refresh_session(session.refresh_token)
    assert refresh.value.code == "refresh_token_not_found"
    with pytest.raises(AuthApiError) as user:
        await other.auth.get_user(session.access_token)
    assert user.value.status == 403 and user.value.code == "session_not_found"


async def test_sign_out_local_keeps_other_sessions(serve: ServeHandle) -> None:
    """scope=local ends only this device's session; another sign-in keeps working."""
    service = await service_client(serve)
    _, email = await new_user(service)
    laptop = await signed_in(serve, email)
    phone = await signed_in(serve, email)
    await laptop.auth.sign_out({"scope": "local"})
    still = await phone.auth.get_user()
    assert still is not None and still.user.email == email


async def test_admin_users_api(serve: ServeHandle) -> None:
    """The service role creates, lists, reads, updates and deletes users."""
    service = await service_client(serve)
    user_id, email = await new_user(service)
    listed = await service.auth.admin.list_users()
    assert [u.email for u in listed] == [email]
    fetched = await service.auth.admin.get_user_by_id(user_id)
    assert fetched.user.email == email
    changed = await service.auth.admin.update_user_by_id(
        user_id, {"user_metadata": {"tier": "gold"}}
    )
    assert changed.user.user_metadata["tier"] == "gold"
    with pytest.raises(AuthApiError) as exists:
        await service.auth.admin.create_user({"email": email, "password": PASSWORD})
    assert exists.value.status == 422 and exists.value.code == "email_exists"
    await service.auth.admin.delete_user(user_id)
    assert await service.auth.admin.list_users() == []
    with psycopg.connect(serve.db_url) as conn:
        assert conn.execute("select count(*) from public.users").fetchone() == (0,)


async def test_admin_api_refuses_users_and_anon(serve: ServeHandle) -> None:
    """A user's or the anon key's token on the admin API is 403 not_admin."""
    service = await service_client(serve)
    _, email = await new_user(service)
    user = await signed_in(serve, email)
    for client in (user, await anon_client(serve)):
        with pytest.raises(AuthApiError) as refused:
            await client.auth.admin.list_users()
        assert refused.value.status == 403 and refused.value.code == "not_admin"


async def test_missing_or_bad_api_key_and_token(serve: ServeHandle) -> None:
    """No apikey is 401; no bearer is 401 no_authorization; a forged one is 403 bad_jwt."""
    async with httpx.AsyncClient(base_url=f"{serve.url}/auth/v1") as http:
        missing = await http.get("/settings")
        assert missing.status_code == 401
        assert missing.json()["message"] == "No API key found in request"
        headers = {"apikey": serve.anon_key, "X-Supabase-Api-Version": "2024-01-01"}
        no_bearer = await http.get("/user", headers=headers)
        assert no_bearer.status_code == 401 and no_bearer.json()["code"] == "no_authorization"
        forged = jwt.encode({"sub": "x", "role": "authenticated", "exp": 9999999999}, "x" * 40)
        bad = await http.get("/user", headers={**headers, "Authorization": f"Bearer {forged}"})
        assert bad.status_code == 403 and bad.json()["code"] == "bad_jwt"
        assert bad.headers["X-Supabase-Api-Version"] == "2024-01-01"
        legacy = await http.post(
            "/token?grant_type=password",
            json={"email": "a@example.com", "password": "nope-nope"},
            headers={"apikey": serve.anon_key},
        )
        assert legacy.json() == {
            "code": 400,
            "error_code": "invalid_credentials",
            "msg": "Invalid login credentials",
        }


async def test_settings_and_health(serve: ServeHandle) -> None:
    """GET /settings reports email sign-up with autoconfirm; GET /health names GoTrue."""
    async with httpx.AsyncClient(base_url=f"{serve.url}/auth/v1") as http:
        headers = {"apikey": serve.anon_key}
        settings = (await http.get("/settings", headers=headers)).json()
        health = (await http.get("/health", headers=headers)).json()
    assert settings["external"]["email"] is True and settings["mailer_autoconfirm"] is True
    assert health["name"] == "GoTrue"


async def test_unconfirmed_admin_created_user_cannot_sign_in(serve: ServeHandle) -> None:
    """A user created by the admin API without email_confirm gets 400 email_not_confirmed."""
    service = await service_client(serve)
    await service.auth.admin.create_user({"email": "new@example.com", "password": PASSWORD})
    with pytest.raises(AuthApiError) as refused:
        await (await anon_client(serve)).auth.sign_in_with_password(
            {"email": "new@example.com", "password": PASSWORD}
        )
    assert refused.value.status == 400 and refused.value.code == "email_not_confirmed"
