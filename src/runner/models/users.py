"""Suite users: each becomes one login test whose token every ``as_user`` test shares.

``users: {alice: {role: member, login: {...}}}`` adds a test ``login_alice`` that
captures the token ``as_token: alice``; a test with ``as_user: alice`` gets the header
``Authorization: Bearer {{ shared_auth_tokens.alice }}``. The planner then infers the
dependency like for any other token, so the login runs once per run, before the first
test that needs it, however many tests run in parallel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from runner.models import TEST_ID_PATTERN, USER_LOGIN_TAG, TestSpec, User


def login_test_id(user: str) -> str:
    """The id of the login test made for ``user``."""
    return f"login_{user}"


def expand_users(users: Mapping[str, User], tests: tuple[TestSpec, ...]) -> tuple[TestSpec, ...]:
    """``tests`` with ``as_user`` turned into a header, plus one login test per user.

    Idempotent: a suite dumped and loaded again already holds the login tests.
    """
    ids = {t.id: t for t in tests}
    out: list[TestSpec] = []
    for test in tests:
        if test.as_user is None:
            out.append(test)
            continue
        if test.as_user not in users:
            known = ", ".join(sorted(users)) or "none"
            raise ValueError(
                f"test {test.id!r} has as_user: {test.as_user}, but the suite declares no such "
                f"user (users: {known})"
            )
        headers = test.request.headers
        if any(name.lower() == "authorization" for name in headers):
            out.append(test)  # the test's own header wins (and a reloaded suite has it)
            continue
        bearer = f"Bearer {{{{ shared_auth_tokens.{test.as_user} }}}}"
        request = test.request.model_copy(update={"headers": {**headers, "Authorization": bearer}})
        out.append(test.model_copy(update={"request": request}))
    for name, user in users.items():
        if not re.fullmatch(TEST_ID_PATTERN, name):
            raise ValueError(f"user name {name!r} must be an identifier (letters, digits, _)")
        test_id = login_test_id(name)
        existing = ids.get(test_id)
        if existing is not None:
            if USER_LOGIN_TAG in existing.tags:
                continue
            raise ValueError(f"test id {test_id!r} is taken: it names the login of user {name!r}")
        login = user.login
        token = login.token.model_copy(update={"as_token": name, "refresh": login.refresh})
        out.append(
            TestSpec(
                id=test_id,
                name=f"login as {name} ({user.role})",
                tags=(USER_LOGIN_TAG, f"role:{user.role}"),
                request=login.request,
                captures={"token": token},
                checks=login.checks,
            )
        )
    return tuple(out)
