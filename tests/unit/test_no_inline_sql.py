"""No SQL written inline in src/runner: statements live in sql/ and are loaded by name.

The only SQL text allowed in Python is a ``psycopg.sql.SQL(...)`` literal that composes
identifiers (it has a ``{}`` placeholder), or a fragment without a statement in it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "runner"

SQL_PATTERN = re.compile(
    r"""(?isx)
    ^\s*select\s+\S.*(\(|,|\bfrom\b)
    | ^\s*(listen|unlisten|notify)\s+[\w{}"]+\s*;?\s*$
    | ^\s*set\s+(local\s+)?[\w.]+\s*(=|\bto\b)
    | ^\s*with\s+(recursive\s+)?\w+\s+as\s*\(
    | \bcomment\s+on\s+(table|column|schema|function)\b
    | \bselect\b.+\bfrom\b
    | \binsert\s+into\b
    | \bupdate\s+[\w.]+\s+set\b
    | \bdelete\s+from\b
    | \bcreate\s+(or\s+replace\s+)?
        (table|function|index|database|schema|role|trigger|view|policy|extension)\b
    | \balter\s+(table|function|role|database|schema|default\s+privileges)\b
    | \bdrop\s+(table|function|index|database|schema|role|trigger|view|policy)\b
    | \bset\s+(local\s+)?(transaction|session_replication_role|role|search_path)\b
    | \bpg_(advisory|try_advisory)\w*\s*\(
    | \bset_config\s*\(
    """
)
"""What SQL looks like at the start of a string, or anywhere in it."""

EXECUTORS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "copy", "stream"}
"""Methods whose first argument is a statement: any literal there is inline SQL."""


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (and attribute docstrings)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for stmt in body:
            if (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                ids.add(id(stmt.value))
    return ids


def _is_sql_composition(call: ast.Call) -> bool:
    """``sql.SQL(...)`` or ``psycopg.sql.SQL(...)`` (or ``SQL(...)`` imported from it)."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr == "SQL" and (
            (isinstance(func.value, ast.Name) and func.value.id == "sql")
            or (isinstance(func.value, ast.Attribute) and func.value.attr == "sql")
        )
    return isinstance(func, ast.Name) and func.id == "SQL"


def _text(node: ast.AST) -> str | None:
    """The literal text of a string constant or f-string (``{}`` for each hole)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _inline_sql(path: Path) -> Iterator[str]:
    """``file:line: text`` for each piece of inline SQL in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = _docstrings(tree)
    allowed: set[int] = set()
    flagged: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if _is_sql_composition(node):
            for arg in node.args:
                text = _text(arg)
                if isinstance(arg, ast.Constant) and text is not None and "{" in text:
                    allowed.add(id(arg))
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in EXECUTORS
            and node.args
            and _text(node.args[0]) is not None
        ):
            flagged[id(node.args[0])] = node.args[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for part in node.values:  # the parts are checked as the whole f-string
                allowed.add(id(part))
        text = _text(node)
        if text is None or id(node) in docs or id(node) in allowed:
            continue
        if id(node) in flagged or SQL_PATTERN.search(text):
            flagged[id(node)] = node
    for node in sorted(flagged.values(), key=lambda n: getattr(n, "lineno", 0)):
        if id(node) in allowed or id(node) in docs:
            continue
        first = " ".join((_text(node) or "").split())[:70]
        yield f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}: {first}"


def test_no_inline_sql_in_src() -> None:
    """No module of src/runner writes a SQL statement inline (sql.SQL identifier compositions
    aside); each belongs in sql/queries/ or sql/serve/, loaded by name."""
    found = [hit for path in sorted(SRC.rglob("*.py")) for hit in _inline_sql(path)]
    assert not found, "inline SQL; move it to sql/queries/<name>.sql:\n" + "\n".join(found)


def test_the_scanner_finds_inline_sql(tmp_path: Path) -> None:
    """The scanner flags statements passed to execute, SQL-looking constants and f-strings,
    and lets identifier compositions and docstrings through."""
    module = SRC / "_scanner_probe.py"
    source = '''
"""select a from b: a docstring."""
from psycopg import sql
READ = "select id from public.t where x = %s"
async def f(conn, name):
    await conn.execute("anything at all")
    await conn.execute(f"listen {name}")
    await conn.execute(sql.SQL("select {} from public.{}").format(sql.Identifier(name)))
    await conn.execute(sql.SQL("select 1 from public.t"))
    return "delete expired execution contexts"
'''
    module.write_text(source)
    try:
        hits = list(_inline_sql(module))
    finally:
        module.unlink()
    lines = [int(hit.split(":")[1]) for hit in hits]
    assert lines == [4, 6, 7, 9], hits
