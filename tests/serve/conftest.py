"""A real ``serve`` (uvicorn in a thread) in front of a fresh migrated database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support_serve import ServeHandle, serving


@pytest.fixture
def serve(migrated_db: str) -> Iterator[ServeHandle]:
    """A running ``serve`` on a free port, in front of a fresh migrated database."""
    with serving(migrated_db) as handle:
        yield handle


@pytest.fixture
def no_default_org(serve: ServeHandle) -> None:
    """Without the default organisation `local` (migration 0033): for the REST contract
    tests that use ``organizations`` as a plain table and expect it to start empty."""
    import psycopg

    with psycopg.connect(serve.db_url) as conn:
        conn.execute("delete from public.organizations where slug = 'local'")
