"""Archiving to a Supabase Storage bucket: httpx.MockTransport stands in for the Storage API."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest
from helpers import seed
from retention_data import add_result, add_run, connection, ids, run_retention, snapshot

from runner.retention import ArchiveError, StorageArchive, restore
from runner.retention.config import archive_from_settings
from runner.settings import Settings

pytestmark = pytest.mark.db

KEY = "service-role-key-never-printed"
PREFIX = "/storage/v1/object/archives/"


class FakeStorage:
    """The subset of the Storage REST API the archive uses, keeping objects in a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail_with: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"message": "invalid signature"})
        if self.fail_with:
            return httpx.Response(self.fail_with, json={"message": "storage is down"})
        path = request.url.path
        if not path.startswith(PREFIX):
            return httpx.Response(400, json={"error": "bucket not found"})
        name = path.removeprefix(PREFIX)
        if request.method == "POST":
            if name in self.objects and request.headers.get("x-upsert") != "true":
                return httpx.Response(409, json={"message": "already exists"})
            self.objects[name] = request.content
            return httpx.Response(200, json={"Key": f"archives/{name}"})
        if name not in self.objects:
            return httpx.Response(400, json={"statusCode": "404", "error": "not_found"})
        return httpx.Response(200, content=self.objects[name])


def _settings() -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        RUNNER_ARCHIVE_BUCKET="archives",
        SUPABASE_URL="https://project.supabase.test",
        SUPABASE_KEY=KEY,
    )


async def test_archive_to_a_bucket_and_restore_from_it(migrated_db: str) -> None:
    """Chunks land in the bucket as objects; restore reads them back into identical rows."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        run = add_run(cur, world.project, days_ago=200)
        doomed = {add_result(cur, run, f"r{n}", days_ago=100) for n in range(5)}
    before = snapshot(migrated_db, ("test_results", "test_result_details"))
    fake = FakeStorage()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
        archive = archive_from_settings(_settings(), client=client)
        assert isinstance(archive, StorageArchive)
        report = await run_retention(migrated_db, archive, chunk_size=2)
        assert report.phases["results"].chunks == 3
        assert not doomed & ids(migrated_db, "test_results")
        names = sorted(fake.objects)
        assert sum(n.endswith("/chunk.json") for n in names) == 3
        assert sum(n.endswith("/test_results.jsonl.gz") for n in names) == 3
        batch = names[0].split("/")[0]
        assert f"{batch}/manifest.json" in names

        async with connection(migrated_db) as conn:
            restored = await restore(conn, archive, [batch])
    assert restored.inserted["test_results"] == 5
    assert snapshot(migrated_db, ("test_results", "test_result_details")) == before


async def test_storage_errors_are_one_line_without_the_key(tmp_path: Path) -> None:
    """A failing or refusing Storage gives an ArchiveError naming the bucket, never the key."""
    fake = FakeStorage()
    fake.fail_with = 503
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
        archive = StorageArchive("https://p.supabase.test", KEY, "archives", client=client)
        with pytest.raises(ArchiveError) as failed:
            await archive.put("b/1/x.jsonl.gz", b"data")
        fake.fail_with = None
        with pytest.raises(ArchiveError) as missing:
            await archive.get("b/none.json")
        wrong = StorageArchive("https://p.supabase.test", "wrong", "archives", client=client)
        with pytest.raises(ArchiveError) as refused:
            await wrong.put("b/1/x.jsonl.gz", b"data")
    assert "HTTP 503 (storage is down)" in str(failed.value)
    assert "missing in storage://archives" in str(missing.value)
    assert "HTTP 401" in str(refused.value)
    for exc in (failed.value, missing.value, refused.value):
        assert KEY not in str(exc) and "\n" not in str(exc)


def test_bucket_without_credentials_is_a_config_error() -> None:
    """RUNNER_ARCHIVE_BUCKET without SUPABASE_URL/SUPABASE_KEY is refused up front."""
    from runner.errors import ConfigError

    settings = Settings(_env_file=None, RUNNER_ARCHIVE_BUCKET="archives")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="SUPABASE_URL"):
        archive_from_settings(settings)
