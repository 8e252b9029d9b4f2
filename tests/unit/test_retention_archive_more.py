"""Archive stores without a database: Storage over a fake Storage API, local files, manifests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from runner.retention.archive import (
    FORMAT,
    ArchiveError,
    LocalArchive,
    decode_rows,
    dump_json,
    load_json,
)
from runner.retention.restore import expand, locate_local, storage_key
from runner.retention.storage import StorageArchive

KEY = "service-role-key-never-printed"


def storage(handler: httpx.MockTransport | None = None, prefix: str = "") -> StorageArchive:
    client = httpx.AsyncClient(transport=handler) if handler else None
    return StorageArchive("https://p.supabase.test/", KEY, "arch", prefix=prefix, client=client)


def answer(status: int, **kwargs: object) -> httpx.MockTransport:
    """A Storage API (the third-party edge) that answers every request the same way."""
    return httpx.MockTransport(lambda request: httpx.Response(status, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("bucket", ["", "a/b"])
def test_bucket_names_are_checked(bucket: str) -> None:
    """An empty bucket or one with a slash is refused before any request."""
    with pytest.raises(ArchiveError, match="invalid Storage bucket name"):
        StorageArchive("https://p.supabase.test", KEY, bucket)


async def test_location_and_object_urls_follow_the_prefix() -> None:
    """The prefix is trimmed of slashes, shown in the location and put before every key."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=b"x")

    archive = storage(httpx.MockTransport(handler), prefix="/nightly/")
    assert archive.location == "storage://arch/nightly"
    assert storage().location == "storage://arch"
    assert await archive.get("/b 1/chunk.json") == b"x"
    assert seen == ["https://p.supabase.test/storage/v1/object/arch/nightly/b%201/chunk.json"]
    await archive.aclose()


async def test_server_errors_carry_storage_reason_only() -> None:
    """5xx answers name the status and Storage's message (first line); odd bodies add nothing."""
    cases = [
        (answer(503, json={"message": "storage down\nstack"}), " (storage down)"),
        (answer(500, json={"error": "boom"}), " (boom)"),
        (answer(500, content=b"<html>"), ""),
        (answer(500, json=["not", "a", "dict"]), ""),
        (answer(500, json={"message": ""}), ""),
    ]
    for transport, reason in cases:
        archive = storage(transport)
        with pytest.raises(ArchiveError) as got:
            await archive.get("b/manifest.json")
        assert str(got.value) == (
            f"cannot download b/manifest.json from storage://arch: HTTP "
            f"{'503' if 'down' in reason else '500'}{reason}"
        )
        with pytest.raises(ArchiveError, match=r"cannot upload b/x.gz to storage://arch: HTTP 5"):
            await archive.put("b/x.gz", b"data")


async def test_missing_objects_and_unreachable_storage() -> None:
    """404 or 400 is 'missing'; a connection failure names its type; the key is never shown."""
    with pytest.raises(ArchiveError, match=re.escape("archive object b/c.json is missing")):
        await storage(answer(404)).get("b/c.json")
    down = StorageArchive("http://127.0.0.1:9", KEY, "arch")
    try:
        message = "cannot download k from storage://arch: ConnectError"
        with pytest.raises(ArchiveError, match=re.escape(message)) as got:
            await down.get("k")
        assert KEY not in str(got.value)
        with pytest.raises(
            ArchiveError, match=re.escape("cannot upload k.json to storage://arch: Connect")
        ):
            await down.put("k.json", b"{}")
    finally:
        await down.aclose()
        await down.aclose()


async def test_local_archive_refuses_bad_keys_and_reports_io_errors(tmp_path: Path) -> None:
    """Keys with '..' or nothing are refused; unreadable or unwritable paths are ArchiveErrors."""
    archive = LocalArchive(tmp_path)
    for key in ("", "/", "a/../b", "./x"):
        with pytest.raises(ArchiveError, match="invalid archive key"):
            await archive.get(key)
    (tmp_path / "file").write_text("")
    with pytest.raises(ArchiveError, match="cannot write archive file"):
        await archive.put("file/below", b"x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ArchiveError, match="cannot read archive file"):
        await archive.get("folder")
    with pytest.raises(ArchiveError, match="is missing"):
        await archive.get("nope/chunk.json")


def test_rows_and_manifests_that_are_not_what_they_claim() -> None:
    """Non-gzip rows, non-JSON manifests and JSON without the format are refused by name."""
    with pytest.raises(ArchiveError, match=re.escape("x.gz is not gzip JSON Lines")):
        decode_rows(b"plain", name="x.gz")
    with pytest.raises(ArchiveError, match=re.escape("m.json is not valid JSON")):
        load_json(b"{", name="m.json")
    with pytest.raises(ArchiveError, match="is not a retention archive manifest"):
        load_json(b'{"format": "other"}', name="m.json")
    with pytest.raises(ArchiveError, match="is not a retention archive manifest"):
        load_json(b"[]", name="m.json")


def test_storage_paths_split_into_bucket_and_key() -> None:
    """storage://bucket/key/ gives (bucket, key); without a key it is refused."""
    assert storage_key("storage://arch/batch-1/0001-results/") == ("arch", "batch-1/0001-results")
    for bad in ("storage://", "storage://arch", "storage://arch/"):
        with pytest.raises(ArchiveError, match="expected storage://"):
            storage_key(bad)


def chunk(batch: str, seq: int, phase: str) -> dict[str, object]:
    return {"format": FORMAT, "batch": batch, "seq": seq, "phase": phase, "files": []}


async def test_local_paths_name_chunks_batches_and_roots(tmp_path: Path) -> None:
    """A chunk file or folder, a batch manifest or folder, or a root of batches are all found."""
    archive = LocalArchive(tmp_path)
    await archive.put("b1/0001-results/chunk.json", dump_json(chunk("b1", 1, "results")))
    await archive.put("b1/0002-runs/chunk.json", dump_json(chunk("b1", 2, "runs")))
    manifest = {
        "format": FORMAT,
        "chunks": [{"chunk": "0001-results/chunk.json"}, {"chunk": "0002-runs/chunk.json"}],
    }
    await archive.put("b1/manifest.json", dump_json(manifest))
    store, entries = locate_local(tmp_path / "b1" / "0001-results" / "chunk.json")
    assert (store.root, entries) == (tmp_path, ["b1/0001-results/chunk.json"])
    assert locate_local(tmp_path / "b1" / "manifest.json")[1] == ["b1/manifest.json"]
    assert locate_local(tmp_path / "b1")[1] == ["b1/manifest.json"]
    root, batches = locate_local(tmp_path)
    assert root.root == tmp_path and batches == ["b1/manifest.json"]
    with pytest.raises(ArchiveError, match="no retention archive at"):
        locate_local(tmp_path / "missing")
    # runs come back before results whatever order the manifest lists them in
    chunks = await expand(archive, ["b1"])
    assert [key for key, _ in chunks] == ["b1/0002-runs/chunk.json", "b1/0001-results/chunk.json"]
    by_folder = await expand(archive, ["b1/0001-results"])
    assert [key for key, _ in by_folder] == ["b1/0001-results/chunk.json"]
    assert json.loads(dump_json({"b": 1, "a": 2})) == {"a": 2, "b": 1}
