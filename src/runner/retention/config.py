"""The archive the settings describe: a Storage bucket when configured, else a folder."""

from __future__ import annotations

from pathlib import Path

import httpx

from runner.errors import ConfigError
from runner.retention.archive import ArchiveStore, LocalArchive
from runner.retention.storage import StorageArchive
from runner.settings import Settings


def local_root(settings: Settings, archive_dir: Path | None) -> Path:
    """``--archive-dir``, else RUNNER_ARCHIVE_DIR, else ``<data dir>/archive``."""
    root = archive_dir or settings.archive_dir or settings.data_dir / "archive"
    return root.expanduser().resolve()


def archive_from_settings(
    settings: Settings,
    archive_dir: Path | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    bucket: str | None = None,
) -> ArchiveStore:
    """The bucket (RUNNER_ARCHIVE_BUCKET) unless a folder is given; the folder otherwise."""
    bucket = bucket or (None if archive_dir else settings.archive_bucket)
    if not bucket:
        return LocalArchive(local_root(settings, archive_dir))
    url = settings.supabase_url
    key = settings.supabase_key
    if not url or key is None or not key.get_secret_value():
        raise ConfigError(
            "RUNNER_ARCHIVE_BUCKET is set but SUPABASE_URL or SUPABASE_KEY "
            "(the service-role key) is not"
        )
    return StorageArchive(url, key.get_secret_value(), bucket, client=client)
