"""The embedded store: the audit.jsonl journal (group commit), snapshots, the data dir lock."""

from phoenixd.store.eventlog import EventLog
from phoenixd.store.lock import DataDirLocked
from phoenixd.store.store import CorruptJournal, Recovery, Store
from phoenixd.store.verify import VerifyReport, verify_journal

__all__ = [
    "CorruptJournal", "DataDirLocked", "EventLog", "Recovery", "Store", "VerifyReport",
    "verify_journal",
]
