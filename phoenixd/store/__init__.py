"""The embedded store: the audit.jsonl journal (group commit), snapshots, the data dir lock."""

from phoenixd.store.damage import Verdict
from phoenixd.store.lock import DataDirLocked
from phoenixd.store.store import CorruptJournal, JournalLoss, JournalLost, Recovery, Store
from phoenixd.store.verify import VerifyReport, read_events, verify_data_dir, verify_journal

__all__ = [
    "CorruptJournal", "DataDirLocked", "JournalLoss", "JournalLost", "Recovery",
    "Store", "Verdict", "VerifyReport", "read_events", "verify_data_dir", "verify_journal",
]
