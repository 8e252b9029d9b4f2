"""Turns a test's templated request into concrete values.

Templates run in a jinja2 sandbox with ``StrictUndefined``: a name that does not
exist is an error naming the test, the field and the name, never an empty string.
What a template may compute and print is bounded (``runner.templating.sandbox`` and
``limits``); breaking a limit is a ``TemplateError`` like any other.
Each distinct template is compiled once per run, and strings without template
markers are never touched, because rendering sits on every test's path.
"""

from __future__ import annotations

import random
import string
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from jinja2 import StrictUndefined, UndefinedError
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.utils import missing

from runner.models import RequestSpec
from runner.templating.limits import MAX_OUTPUT, LimitError, check_output, joined
from runner.templating.refs import Reference, has_template, lone_expression, split_template
from runner.templating.sandbox import LimitedEnvironment

CONTEXT_NAMES = (
    "env",
    "secrets",
    "shared_auth_tokens",
    "shared_variables",
    "captured_data",
    "row",
)

_MISS: Any = object()
Parts = tuple[str | Reference, ...]


class TemplateError(Exception):
    """A template could not be rendered; becomes an ``error`` result (category template)."""

    def __init__(self, field: str, reason: str, *, name: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.name = name
        super().__init__(f"{field}: {reason}")


class MissingNameError(UndefinedError):
    """Raised by our undefined values; knows the container and the missing key."""

    def __init__(
        self, message: str | None = None, *, obj: Any = missing, name: Any = None, hint: Any = None
    ) -> None:
        super().__init__(message)
        self.obj = obj
        self.name = name
        self.hint = hint


class _Undefined(StrictUndefined):
    """``StrictUndefined`` whose error remembers where the lookup failed."""

    __slots__ = ()

    def __init__(
        self, hint: str | None = None, obj: Any = missing, name: str | None = None, exc: Any = None
    ) -> None:
        super().__init__(hint, obj, name, exc or UndefinedError)
        if exc is None or exc is UndefinedError:
            # jinja raises ``self._undefined_exception(message)``; binding obj/name lets
            # the error path name the full dotted path (``captured_data.login.token``)
            self._undefined_exception = partial(  # type: ignore[assignment]
                MissingNameError, obj=obj, name=name, hint=hint
            )


def missing_path(exc: MissingNameError, context: Mapping[str, Any]) -> str:
    """The dotted name that was missing, found by identity in the render context."""
    name = str(exc.name)
    if exc.obj is missing:
        return name
    for top, value in context.items():
        if value is exc.obj:
            return f"{top}.{name}"
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if inner is exc.obj:
                    return f"{top}.{key}.{name}"
    return name


class Renderer:
    """Renders templates with the run's helpers; one per run (it owns the seeded RNG)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        # seeded, not secure: a rerun with the same --seed must produce the same values
        self.random = random.Random(seed)  # noqa: S311
        # immutable sandbox: templates read the shared context without copies, so they
        # must not be able to mutate it (``shared_variables.update(...)``); limited: a
        # template's work and output are bounded (runner.templating.limits)
        env = LimitedEnvironment(undefined=_Undefined, autoescape=False)
        env.globals.update(
            uuid=self._uuid,
            now=_now,
            timestamp=_timestamp,
            random_int=self._random_int,
            random_string=self._random_string,
        )
        self._env = env
        # the fast path (text and plain lookups, see refs.split_template) by source
        self._plain: dict[str, tuple[Parts, bool] | None] = {}
        # by source: an expression (True, its function) or a template (False, the template)
        self._jinja: dict[str, tuple[bool, Any]] = {}

    # ---------------------------------------------------------------- helpers

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _random_int(self, low: int = 0, high: int = 1_000_000) -> int:
        return self.random.randint(low, high)

    def _random_string(self, length: int = 12) -> str:
        return "".join(self.random.choices(string.ascii_letters + string.digits, k=length))

    # -------------------------------------------------------------- rendering

    def _compiled(self, source: str, field: str) -> tuple[bool, Any]:
        hit = self._jinja.get(source)
        if hit is not None:
            return hit
        try:
            expression = lone_expression(source)
            if expression is not None:
                compiled: tuple[bool, Any] = (
                    True,
                    self._env.compile_expression(expression, undefined_to_none=False),
                )
            else:
                compiled = (False, self._env.from_string(source))
        except JinjaTemplateError as exc:
            raise TemplateError(field, f"invalid template {source!r}: {exc}") from None
        self._jinja[source] = compiled
        return compiled

    def text(self, source: str, context: Mapping[str, Any], field: str) -> Any:
        """Render one string; a lone ``{{ expr }}`` keeps the expression's native type."""
        if "{" not in source:
            return source
        try:
            plain = self._plain[source]
        except KeyError:
            parts = split_template(source)
            plain = self._plain[source] = None if parts is None else (parts, len(parts) == 1)
        if plain is not None:
            parts, native = plain
            if native:
                value = _lookup(parts[0], context)  # type: ignore[arg-type]
                if value is not _MISS:
                    return value
            else:
                rendered = _join(parts, context)
                if rendered is not None:
                    return rendered
        elif not has_template(source):
            return source
        return self._render_jinja(source, context, field)

    def _render_jinja(self, source: str, context: Mapping[str, Any], field: str) -> Any:
        native, compiled = self._compiled(source, field)
        self._env.start()
        try:
            if native:
                result = compiled(context)
                if isinstance(result, _Undefined):
                    result._fail_with_undefined_error()
                elif type(result) is str and len(result) > MAX_OUTPUT:
                    check_output(len(result))
            else:  # chunk by chunk, stopping at the output limit (``Template.generate``
                # without its wrapper: errors become TemplateError below anyway)
                result = joined(compiled.root_render_func(compiled.new_context(context)))
        except LimitError as exc:
            raise TemplateError(field, str(exc)) from None
        except MissingNameError as exc:
            if exc.hint:
                raise TemplateError(field, str(exc.hint)) from None
            path = missing_path(exc, context)
            raise TemplateError(field, f"'{path}' is undefined", name=path) from None
        except UndefinedError as exc:
            raise TemplateError(field, str(exc)) from None
        except Exception as exc:  # a failing filter or helper is the template's fault
            raise TemplateError(field, f"{type(exc).__name__}: {exc}") from None
        return result

    def value(self, value: Any, context: Mapping[str, Any], field: str) -> Any:
        """Render strings anywhere inside a JSON-like value; other values pass through."""
        if isinstance(value, str):
            return self.text(value, context, field)
        if isinstance(value, dict):
            return {k: self.value(v, context, f"{field}.{k}") for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v, context, f"{field}[{i}]") for i, v in enumerate(value)]
        return value

    def string(self, source: str, context: Mapping[str, Any], field: str) -> str:
        """Render to a string whatever the expression's type (headers, URL, form)."""
        result = self.text(source, context, field)
        return result if isinstance(result, str) else str(result)

    def request(
        self,
        spec: RequestSpec,
        context: Mapping[str, Any],
        *,
        base_url: str | None,
        default_headers: Mapping[str, str],
    ) -> RenderedRequest:
        """The concrete request: every string rendered, the URL joined to the base URL."""
        url = self.string(spec.url, context, "request.url")
        url = join_url(base_url, url)
        headers: dict[str, str] = {}
        if default_headers:
            lowered = {k.lower() for k in spec.headers}
            for name, val in default_headers.items():
                if name.lower() not in lowered:  # the test's own header wins
                    headers[name] = self.string(val, context, f"defaults.headers.{name}")
        for name, val in spec.headers.items():
            headers[name] = self.string(val, context, f"request.headers.{name}")
        params = (
            {k: self.value(v, context, f"request.query.{k}") for k, v in spec.query.items()}
            if spec.query
            else None
        )
        json_body = (
            self.value(spec.json_body, context, "request.json")
            if spec.json_body is not None
            else None
        )
        form = (
            {k: self.string(v, context, f"request.form.{k}") for k, v in spec.form.items()}
            if spec.form is not None
            else None
        )
        body = self.string(spec.body, context, "request.body") if spec.body is not None else None
        return RenderedRequest(spec.method, url, params, headers, json_body, form, body)


def _lookup(reference: Reference, context: Mapping[str, Any]) -> Any:
    """The value at ``root.key[...]``, or ``_MISS`` when any step does not resolve.

    Plain dict and list indexing gives what jinja2 gives for these (its sandbox tries
    the key of a dict once the attribute is not there, and ``.items`` and the like never
    get here); anything else is left to jinja2.
    """
    root, keys = reference
    value = context.get(root, _MISS)
    for key in keys:
        kind = type(value)
        if kind is dict:
            value = value.get(key, _MISS)
            if value is _MISS:
                return _MISS
        elif kind is list and type(key) is int and key < len(value):
            value = value[key]
        else:
            return _MISS
    return value


def _join(parts: Parts, context: Mapping[str, Any]) -> str | None:
    out: list[str] = []
    for part in parts:
        if type(part) is str:
            out.append(part)
            continue
        value = _lookup(part, context)  # type: ignore[arg-type]
        if value is _MISS:
            return None
        out.append(value if type(value) is str else str(value))
    return "".join(out)


@dataclass(slots=True)
class RenderedRequest:
    """A request with every template resolved, ready for httpx."""

    method: str
    url: str
    params: dict[str, Any] | None
    headers: dict[str, str]
    json_body: Any
    form: dict[str, str] | None
    body: str | None


def join_url(base_url: str | None, url: str) -> str:
    """An absolute URL stays; a relative one is joined to the base URL."""
    if "://" in url:
        return url
    if not base_url:
        raise TemplateError(
            "request.url",
            f"relative URL {url!r} needs a base URL (suite or environment base_url, or --base-url)",
        )
    return f"{base_url.rstrip('/')}/{url.lstrip('/')}" if url else base_url


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _timestamp() -> int:
    return int(time.time())
