"""Where archived rows go: a local directory, or a Supabase Storage bucket.

An archive is a tree of keys (``/``-separated paths). Each chunk of a retention run
is a folder ``<batch>/<seq>-<phase>/`` holding one gzip-compressed JSON Lines file
per table and a ``chunk.json`` that lists them with row counts and SHA-256 sums;
each batch (one invocation) has a ``manifest.json`` listing its chunks.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runner.errors import EXIT_ARCHIVE, RunnerError

FORMAT = "runner-retention-archive/1"

# Parents before children: the order chunks' files are written and restored in.
TABLE_ORDER = (
    "test_cases",
    "test_dependencies",
    "suite_versions",
    "test_runs",
    "test_execution_context",
    "test_results",
    "test_result_details",
    "performance_metrics_monthly",
    "performance_metrics",
)


class ArchiveError(RunnerError):
    """An archive cannot be written, found or read back intact."""

    exit_code = EXIT_ARCHIVE


class ArchiveStore(Protocol):
    """Put and get bytes by key."""

    @property
    def location(self) -> str:
        """Where the archive lives, safe to print and to store (no credentials)."""
        ...

    async def put(self, key: str, data: bytes) -> None:
        """Write (or overwrite) one object."""
        ...

    async def get(self, key: str) -> bytes:
        """Read one object; ``ArchiveError`` when it is missing."""
        ...


class LocalArchive:
    """An archive in a local directory (files written atomically: temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        """The directory."""
        return str(self.root)

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ArchiveError(f"invalid archive key {key!r}")
        return self.root.joinpath(*parts)

    async def put(self, key: str, data: bytes) -> None:
        """Write ``data`` at ``key`` (creating folders)."""
        path = self._path(key)
        tmp = path.with_name(path.name + ".part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise ArchiveError(f"cannot write archive file {path}: {exc.strerror or exc}") from None

    async def get(self, key: str) -> bytes:
        """The bytes at ``key``."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"archive file {path} is missing") from None
        except OSError as exc:
            raise ArchiveError(f"cannot read archive file {path}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class TableFile:
    """One table's rows in a chunk."""

    table: str
    file: str
    rows: int
    sha256: str


def encode_rows(lines: Iterable[str]) -> tuple[bytes, int]:
    """JSON Lines, gzip-compressed (mtime 0, so the same rows give the same bytes)."""
    count = 0
    chunks: list[bytes] = []
    for line in lines:
        chunks.append(line.encode("utf-8"))
        chunks.append(b"\n")
        count += 1
    return gzip.compress(b"".join(chunks), compresslevel=6, mtime=0), count


def decode_rows(data: bytes, *, name: str) -> list[str]:
    """The JSON lines of a compressed file."""
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"archive file {name} is not gzip JSON Lines: {exc}") from None
    return [line for line in text.split("\n") if line]


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def dump_json(value: Any) -> bytes:
    """Stable, readable JSON bytes for manifests."""
    return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def load_json(data: bytes, *, name: str) -> dict[str, Any]:
    """A manifest as a dict, or ``ArchiveError``."""
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ArchiveError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise ArchiveError(f"{name} is not a retention archive manifest ({FORMAT})")
    return value
