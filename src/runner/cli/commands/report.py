"""``python -m runner report RUN_ID [--html FILE] [--markdown FILE] [--template NAME]``.

Reads a stored run as the configured identity (so RLS decides what may be
reported) and writes the HTML report and/or the Markdown summary. With neither
option the Markdown summary goes to stdout (``>> $GITHUB_STEP_SUMMARY``).
Exit codes: 0 written, 2 no such run or template / broken template / bad path,
3 database.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``report`` command."""
    p = sub.add_parser(
        "report",
        help="write the HTML report or Markdown summary of a stored run",
        description="Report a stored run: a self-contained HTML page and/or a Markdown summary.",
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run's id (printed by run-suite)")
    p.add_argument("--html", metavar="FILE", help="write the HTML report here")
    p.add_argument("--markdown", metavar="FILE", help="write the Markdown summary here")
    p.add_argument(
        "--template",
        metavar="NAME",
        help="use the organisation's stored template NAME (report_templates) for its format",
    )
    p.set_defaults(func=_run)


async def _run(args: argparse.Namespace) -> int:
    import sys

    from runner.db.connect import connect, resolve_target
    from runner.db.identity import identity_from_settings
    from runner.errors import ConfigError
    from runner.reporting.html import ReportError, render_report
    from runner.reporting.html.render import Kind
    from runner.reporting.html.stored import load_stored_run, load_template, run_uuid
    from runner.settings import Settings

    try:
        settings = Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
    run_id = run_uuid(args.run_id)  # a typo fails before the database is started
    identity = identity_from_settings(settings)
    conn = await connect(resolve_target(settings))
    try:
        stored = await load_stored_run(conn, run_id, identity)
        template = None
        if args.template:
            template = await load_template(conn, stored, args.template, identity)
    finally:
        await conn.close()
    custom: Kind | None = None
    if template is not None:
        if template.format not in ("html", "markdown"):
            raise ReportError(
                f"report template {template.name!r} has format {template.format}; "
                "report renders html and markdown templates"
            )
        custom = "html" if template.format == "html" else "markdown"

    def render(kind: Kind) -> str:
        chosen = (template.name, template.source) if template and custom == kind else None
        return render_report(stored.data, kind, template=chosen)

    from runner.reporting.html import write_text

    outputs: list[tuple[Kind, str]] = []
    if args.html:
        outputs.append(("html", args.html))
    if args.markdown:
        outputs.append(("markdown", args.markdown))
    if custom and outputs and custom not in {kind for kind, _ in outputs}:
        raise ReportError(
            f"report template {args.template!r} renders {custom}: give --{custom} FILE"
        )
    if not outputs:
        sys.stdout.write(render(custom or "markdown"))
        return 0
    for kind, path in outputs:
        write_text(path, render(kind))
        print(f"wrote {kind} report of run {run_id} to {path}")
    return 0
