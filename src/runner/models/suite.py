"""The suite: the typed input every stage reads.

A suite is frozen once loaded. Unknown keys are errors (``extra="forbid"``), so a
typo in a YAML file is reported with its line instead of being silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TEST_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
"""Test ids are identifiers so templates can say ``captured_data.login.token``."""
SUITE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""A suite id is a slug: the key of the suite in its project (``test_suites.slug``)."""


class Model(BaseModel):
    """Base of suite models: frozen, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- suite


class RetryPolicy(Model):
    """How a test's request is retried on connection errors, timeouts and listed statuses."""

    count: int = Field(default=0, ge=0, le=20, description="Extra attempts after the first.")
    backoff: float = Field(
        default=0.2, ge=0, le=60, description="First delay in seconds; doubles each attempt."
    )
    max_backoff: float = Field(default=5.0, ge=0, le=600, description="Cap on one delay (s).")
    jitter: float = Field(
        default=0.1, ge=0, le=1, description="Random fraction added to each delay (seeded)."
    )
    on_status: tuple[int, ...] = Field(
        default=(), description="Response statuses that are retried, e.g. [502, 503]."
    )


MAX_RESPONSE_BYTES = 10 * 1024 * 1024
"""Default cap on one response body (10 MiB)."""

_TIMEOUT_HELP = "Seconds an attempt may take in all: connect, send, headers and body."
_CONNECT_HELP = "Seconds to open the connection (within timeout); unset: only timeout bounds it."
_READ_HELP = "Seconds the server may stay silent between two reads; unset: only timeout."
_MAX_BYTES_HELP = "Largest response body read (bytes, decoded); above it: response_too_large."


class Defaults(Model):
    """Settings every test inherits unless it overrides them."""

    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0, le=3600, description=_TIMEOUT_HELP)
    connect_timeout: float | None = Field(default=None, gt=0, le=3600, description=_CONNECT_HELP)
    read_timeout: float | None = Field(default=None, gt=0, le=3600, description=_READ_HELP)
    max_response_bytes: int = Field(
        default=MAX_RESPONSE_BYTES, ge=1, le=2**30, description=_MAX_BYTES_HELP
    )
    retries: RetryPolicy = Field(default_factory=RetryPolicy)


class SecretRef(Model):
    """Where a secret's value comes from: an environment variable (or ``.env``)."""

    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    default: str | None = Field(
        default=None, description="Fallback value, meant for local demos only."
    )


class Environment(Model):
    """A named target environment: its variables and the secrets it needs."""

    base_url: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, SecretRef] = Field(
        default_factory=dict,
        description="Secret name -> source; values are redacted everywhere they would show.",
    )

    @model_validator(mode="before")
    @classmethod
    def _secret_shorthand(cls, data: Any) -> Any:
        # ``secrets: {password: SHOP_PASSWORD}`` is short for ``{password: {env: ...}}``
        if isinstance(data, dict) and isinstance(data.get("secrets"), dict):
            data = dict(data)
            data["secrets"] = {
                k: ({"env": v} if isinstance(v, str) else v) for k, v in data["secrets"].items()
            }
        return data


class Service(Model):
    """A process started before the run (e.g. the target API) and stopped after it."""

    name: str
    command: str | list[str]
    url: str | None = Field(default=None, description="Polled until it answers below 500.")
    timeout: float = Field(default=30.0, gt=0, le=600)
    cwd: str | None = Field(default=None, description="Relative to the suite file.")
    env: dict[str, str] = Field(default_factory=dict)


class RequestSpec(Model):
    """One HTTP request; every string may be a jinja2 template."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(description="A path joined to the base URL, or an absolute URL.")
    query: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    form: dict[str, str] | None = None
    body: str | None = Field(default=None, description="Raw text body.")

    @model_validator(mode="before")
    @classmethod
    def _upper_method(cls, data: Any) -> Any:
        # runs once per test of a suite: copy the dict only when there is work to do
        if isinstance(data, dict):
            method = data.get("method")
            if isinstance(method, str) and not method.isupper():
                data = dict(data)
                data["method"] = method.upper()
        return data

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        # cheap test first (once per test of a suite); the message only when it fails
        if (self.json_body is not None) + (self.form is not None) + (self.body is not None) > 1:
            given = [
                n
                for n, v in (("json", self.json_body), ("form", self.form), ("body", self.body))
                if v is not None
            ]
            raise ValueError(f"give only one of json, form, body (got {', '.join(given)})")
        return self


CaptureSource = Literal["json", "header", "cookie", "status", "regex"]


class TokenRefresh(Model):
    """When a shared token is renewed by running its producer test again."""

    on_status: tuple[int, ...] = Field(
        default=(401,), description="Statuses of a request using the token that mean it expired."
    )
    lifetime_s: float | None = Field(
        default=None, ge=0, description="Seconds after which the token is renewed before use."
    )


_CAPTURE_NEEDS = {"json": "path", "header": "name", "cookie": "name", "regex": "pattern"}
"""The field each capture source cannot do without."""


class CaptureSpec(Model):
    """Where one captured value comes from in a response."""

    source: CaptureSource = Field(default="json", alias="from")
    path: str | None = Field(default=None, description="JSONPath, for from: json.")
    name: str | None = Field(default=None, description="Header or cookie name.")
    pattern: str | None = Field(default=None, description="Regex on the body text.")
    group: int | str = Field(default=1, description="Regex group number or name.")
    secret: bool | None = Field(
        default=None,
        description="Stored encrypted, shown redacted. Unset: secret when the capture's name "
        "looks secret (token, secret, password, api_key, authorization, cookie, session; "
        "RUNNER_SECRET_NAME_PATTERN); false opts such a capture out.",
    )
    as_token: str | None = Field(
        default=None, description="Also publish the value as shared_auth_tokens[<name>]."
    )
    as_variable: str | None = Field(
        default=None, description="Also publish the value as shared_variables[<name>]."
    )
    refresh: TokenRefresh | None = Field(
        default=None,
        description="Renew the token (run this test again) when a request using it gets one "
        "of on_status, or when lifetime_s has passed; needs as_token.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # ``token: $.access_token`` is short for ``{from: json, path: $.access_token}``
        if isinstance(data, str):
            return {"from": "json", "path": data}
        return data

    @model_validator(mode="after")
    def _needs(self) -> CaptureSpec:
        field = _CAPTURE_NEEDS.get(self.source)
        if field and getattr(self, field) is None:
            raise ValueError(f"a capture from {self.source} needs '{field}'")
        if self.refresh is not None and not self.as_token:
            raise ValueError("refresh needs as_token (it renews a shared token)")
        return self


CheckOp = Literal[
    "eq", "ne", "gt", "gte", "lt", "lte", "contains", "in", "matches", "exists", "type", "length"
]


class ValueCheck(Model):
    """An operator and an expected value (``exists`` takes a bool, ``type`` a JSON type name)."""

    op: CheckOp = "eq"
    value: Any = None


class JsonCheck(ValueCheck):
    """A check on the values a JSONPath selects in the response body."""

    path: str


class StatusRange(Model):
    """An inclusive range of status codes."""

    min: int = Field(ge=100, le=599)
    max: int = Field(ge=100, le=599)


class Checks(Model):
    """Everything asserted about a response; all are evaluated, each is reported."""

    status: int | list[int] | StatusRange | None = None
    headers: dict[str, str | ValueCheck] = Field(default_factory=dict)
    json_checks: list[JsonCheck] = Field(default_factory=list, alias="json")
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    max_response_ms: float | None = Field(default=None, gt=0)


DependencyType = Literal["order", "data", "token"]


class Dependency(Model):
    """An explicit edge: this test runs after ``test``."""

    test: str = Field(pattern=TEST_ID_PATTERN)
    type: DependencyType = "order"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"test": data}
        return data


class TestSpec(Model):
    """One test: a request, what to capture from its response, what to check."""

    __test__ = False  # not a pytest class

    id: str = Field(pattern=TEST_ID_PATTERN, description="Stable id, unique in the suite.")
    name: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    request: RequestSpec
    captures: dict[str, CaptureSpec] = Field(default_factory=dict)
    checks: Checks = Field(default_factory=Checks)
    depends_on: tuple[Dependency, ...] = ()
    timeout: float | None = Field(default=None, gt=0, le=3600, description=_TIMEOUT_HELP)
    connect_timeout: float | None = Field(default=None, gt=0, le=3600, description=_CONNECT_HELP)
    read_timeout: float | None = Field(default=None, gt=0, le=3600, description=_READ_HELP)
    max_response_bytes: int | None = Field(
        default=None, ge=1, le=2**30, description=_MAX_BYTES_HELP
    )
    retries: RetryPolicy | None = None
    data: list[dict[str, Any]] | str | None = Field(
        default=None, description="Inline rows, or a CSV/JSON file relative to the suite."
    )
    as_user: str | None = Field(
        default=None,
        pattern=TEST_ID_PATTERN,
        description="Send as this suite user: adds Authorization: Bearer <their token>.",
    )

    @property
    def title(self) -> str:
        """The human name, falling back to the id."""
        return self.name or self.id


UserRole = Literal["owner", "admin", "member", "guest"]

USER_LOGIN_TAG = "runner:user-login"
"""Tag of the login test made for each suite user (``login_<user>``)."""


class UserLogin(Model):
    """How a suite user signs in: one request and where its token is in the response."""

    request: RequestSpec
    token: CaptureSpec = Field(description="Where the token is, e.g. $.access_token.")
    checks: Checks = Field(default_factory=lambda: Checks(status=200))
    refresh: TokenRefresh | None = Field(
        default=None, description="Sign in again when the token expires."
    )


class User(Model):
    """A named test user; signs in once per run, shared by every test that needs it."""

    role: UserRole = "member"
    description: str | None = None
    login: UserLogin


class Suite(Model):
    """A whole suite as written in YAML/JSON or built in Python."""

    name: str = Field(min_length=1)
    id: str | None = Field(
        default=None,
        pattern=SUITE_ID_PATTERN,
        description="Identity of the suite in the database: files with the same id share one "
        "suite and its history (lowercase letters, digits, - and _). Without it, a suite is "
        "its name and its file.",
    )
    description: str | None = None
    base_url: str | None = None
    default_env: str | None = None
    environments: dict[str, Environment] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    services: tuple[Service, ...] = ()
    users: dict[str, User] = Field(
        default_factory=dict,
        description="Test users by name; each gets a login test login_<name> and a token "
        "shared_auth_tokens.<name>.",
    )
    tests: tuple[TestSpec, ...] = Field(min_length=1)
    source_path: str | None = Field(
        default=None, exclude=True, description="File the suite was loaded from (not written)."
    )

    @model_validator(mode="after")
    def _expand_users(self) -> Suite:
        if not self.users and not any(t.as_user for t in self.tests):
            return self
        # imported here: runner.models.users imports this module
        from runner.models.users import expand_users

        # frozen, but still being built: the one place the tests tuple is replaced
        object.__setattr__(self, "tests", expand_users(self.users, self.tests))
        return self

    def test(self, test_id: str) -> TestSpec:
        """The test with this id (KeyError if absent)."""
        for t in self.tests:
            if t.id == test_id:
                return t
        raise KeyError(test_id)
