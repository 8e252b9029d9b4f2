"""Rendering reports: the built-in templates, and an organisation's own, sandboxed.

Everything a template prints is escaped: HTML by jinja2's autoescape, Markdown by a
``finalize`` hook that escapes what GitHub would read as markup or table syntax
(values marked ``Markup`` are trusted and printed as they are: the pre-drawn SVG).
Stored templates run in a ``SandboxedEnvironment``: they can read the report's
views, not call into Python.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Literal

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from runner.errors import EXIT_USAGE, RunnerError

Kind = Literal["html", "markdown"]
TEMPLATES = Path(__file__).with_name("templates")
BUILTIN = {"html": "report.html.j2", "markdown": "summary.md.j2"}
_STORED_FILENAME = "<stored template>"


class ReportError(RunnerError):
    """A report cannot be made: no such run or template, or a template is broken."""

    exit_code = EXIT_USAGE


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def markdown_escape(value: Any) -> str:
    """``value`` as Markdown text: no markup, no HTML, one line (safe in table cells)."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return str(value)
    text = str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f} ms"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f} %"


def _install(env: Environment) -> Environment:
    env.filters["ms"] = _ms
    env.filters["percent"] = _percent
    return env


def builtin_environment(kind: Kind) -> Environment:
    """The environment of the shipped templates (trusted, escaped)."""
    if kind == "html":
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    else:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=False,  # noqa: S701 - Markdown: finalize=markdown_escape escapes instead
            finalize=markdown_escape,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _install(env)


def sandboxed_environment(kind: Kind) -> SandboxedEnvironment:
    """The environment stored templates run in."""
    if kind == "html":
        env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    else:
        env = SandboxedEnvironment(
            autoescape=False,  # Markdown: finalize=markdown_escape escapes instead
            finalize=markdown_escape,
            undefined=StrictUndefined,
        )
    _install(env)
    return env


def render_builtin(kind: Kind, context: dict[str, Any]) -> str:
    """The built-in HTML report or Markdown summary."""
    env = builtin_environment(kind)
    return env.get_template(BUILTIN[kind]).render(context)


def render_partial(name: str, context: dict[str, Any]) -> Markup:
    """A built-in HTML fragment (the SVG drawings) for stored templates to embed."""
    return Markup(builtin_environment("html").get_template(name).render(context))  # noqa: S704 - rendered with autoescape on


def render_stored(name: str, kind: Kind, source: str, context: dict[str, Any]) -> str:
    """Render a stored template; a broken one is a ``ReportError`` naming it and the line."""
    env = sandboxed_environment(kind)
    try:
        template: Template = env.from_string(source)
        template.filename = _STORED_FILENAME
    except TemplateSyntaxError as exc:
        raise ReportError(f"report template {name!r} line {exc.lineno}: {exc.message}") from None
    try:
        return template.render(context)
    except TemplateError as exc:
        line = _template_line()
        where = f" line {line}" if line else ""
        raise ReportError(f"report template {name!r}{where}: {exc.message or exc}") from None
    except Exception as exc:  # a template can divide by zero too: still one line
        line = _template_line()
        where = f" line {line}" if line else ""
        raise ReportError(f"report template {name!r}{where}: {type(exc).__name__}: {exc}") from None


def _template_line() -> int | None:
    """The template line of the exception being handled (jinja2 maps frames to lines)."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in (_STORED_FILENAME, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
