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
