"""Retention: archive what the policy expires, then delete it; restore archives.

See docs/retention.md. The CLI is ``python -m runner retention``.
"""

from runner.retention.apply import Chunk, Hooks, PhaseTotals, RetentionReport, apply, plan
from runner.retention.archive import ArchiveError, ArchiveStore, LocalArchive
from runner.retention.restore import RestoreReport, restore
from runner.retention.storage import StorageArchive

__all__ = [
    "ArchiveError",
    "ArchiveStore",
    "Chunk",
    "Hooks",
    "LocalArchive",
    "PhaseTotals",
    "RestoreReport",
    "RetentionReport",
    "StorageArchive",
    "apply",
    "plan",
    "restore",
]
