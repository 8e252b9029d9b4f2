"""``build_request``: a test's request, stored or from a file, as an ``httpx.Request``.

The same rendering as a run (``runner.templating.render``): every string is a jinja2 template
in the sandbox, a lone ``{{ expr }}`` keeps its type, a relative URL is joined to
the base URL. Nothing is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from runner.models import RequestSpec, TestSpec
from runner.templating.render import Renderer

if TYPE_CHECKING:
    from runner.context.manager import RunContext

_NAMES = ("env", "secrets", "shared_auth_tokens", "shared_variables", "captured_data", "row")


def request_spec(config: RequestSpec | TestSpec | Mapping[str, Any]) -> RequestSpec:
    """The request of a ``RequestSpec``, a ``TestSpec``, a stored ``test_cases.definition``
    (a test as JSON, with a ``request`` key) or a request as a mapping."""
    if isinstance(config, RequestSpec):
        return config
    if isinstance(config, TestSpec):
        return config.request
    if "request" in config and isinstance(config["request"], Mapping):
        return RequestSpec.model_validate(config["request"])
    return RequestSpec.model_validate(dict(config))


def template_names(context: RunContext | Mapping[str, Any] | None) -> dict[str, Any]:
    """The names templates see, from a ``RunContext`` or a mapping (missing ones empty)."""
    from runner.context.manager import RunContext

    names: dict[str, Any] = {name: {} for name in _NAMES}
    if isinstance(context, RunContext):
        names["shared_auth_tokens"] = context.tokens
        names["shared_variables"] = context.variables
        names["captured_data"] = context.captured
    elif context is not None:
        names.update(context)
    return names


def build_request(
    endpoint: str | Mapping[str, Any] | None,
    request_config: RequestSpec | TestSpec | Mapping[str, Any],
    context: RunContext | Mapping[str, Any] | None = None,
    *,
    default_headers: Mapping[str, str] | None = None,
    seed: int = 0,
) -> httpx.Request:
    """Render ``request_config`` with ``context`` into an ``httpx.Request``.

    ``endpoint`` is the base URL a relative request URL is joined to (a string), or a
    mapping with ``base_url`` (as an ``api_endpoints`` row joined with its
    environment). ``context`` is a ``RunContext`` (from
    ``TestExecutionContextManager``) or a mapping of the template names ``env``,
    ``secrets``, ``shared_auth_tokens``, ``shared_variables``, ``captured_data``,
    ``row``. ``default_headers`` are added unless the request sets them (like a
    suite's ``defaults.headers``); ``seed`` seeds ``uuid()`` and ``random_*()``.

    Raises ``runner.templating.render.TemplateError`` naming the field when a template fails
    (for example ``request.headers.Authorization: 'shared_auth_tokens.admin' is
    undefined``), and ``ValueError`` when httpx refuses the rendered request.
    """
    base_url = endpoint.get("base_url") if isinstance(endpoint, Mapping) else endpoint
    spec = request_spec(request_config)
    rendered = Renderer(seed).request(
        spec,
        template_names(context),
        base_url=base_url,
        default_headers=default_headers or {},
    )
    try:
        return httpx.Request(
            rendered.method,
            rendered.url,
            params=rendered.params,
            headers=rendered.headers,
            json=rendered.json_body,
            data=rendered.form,
            content=rendered.body,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, TypeError) as exc:
        raise ValueError(f"cannot build the request: {type(exc).__name__}: {exc}") from exc
