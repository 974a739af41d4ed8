"""The crash model (phoenixd/store/fsio.py's ledger, tests/crashfs.py's power_loss): a power
loss cuts every file back to what its last fdatasync covered, removes files whose creation no
directory fsync covered, undoes renames no directory fsync covered (the replaced file comes
back), and keeps everything that was synced. Snapshots written under the ledger survive a power
loss whole: the last one written is the one loaded back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phoenixd.store import fsio, snapshots
from phoenixd.store.snapshots import Snapshot, load_snapshot, write_snapshot
from tests.crashfs import power_loss


@pytest.fixture
def ledger(tmp_path: Path) -> fsio.CrashLedger:
    return fsio.CrashLedger(tmp_path / "ledger")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def _write(path: Path, data: bytes, ledger: fsio.CrashLedger | None = None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        if ledger is not None:
            ledger.sync_data(fd)
    finally:
        os.close(fd)


def test_without_the_variable_the_calls_are_the_plain_ones() -> None:
    assert fsio.ENV not in os.environ
    assert not isinstance(getattr(fsio.sync_data, "__self__", None), fsio.CrashLedger)
    assert snapshots.sync_data is fsio.sync_data and snapshots.fsync_dir is fsio.fsync_dir


def test_power_loss_cuts_what_no_fdatasync_covered(
        data_dir: Path, ledger: fsio.CrashLedger) -> None:
    journal = data_dir / "audit.jsonl"
    _write(journal, b"durable,", ledger)
    ledger.fsync_dir(data_dir)
    _write(journal, b"also durable,", ledger)
    _write(journal, b"written, never synced")
    lost = power_loss(data_dir, ledger.path)
    assert journal.read_bytes() == b"durable,also durable,"
    assert lost == ["audit.jsonl: cut from 42 to 21 bytes"]


def test_power_loss_removes_files_whose_creation_was_never_synced(
        data_dir: Path, ledger: fsio.CrashLedger) -> None:
    _write(data_dir / "kept", b"k", ledger)
    ledger.fsync_dir(data_dir)
    _write(data_dir / "synced-but-not-its-entry", b"s", ledger)
    power_loss(data_dir, ledger.path)
    assert sorted(os.listdir(data_dir)) == ["kept"]
    assert (data_dir / "kept").read_bytes() == b"k"


def test_a_file_never_synced_comes_back_empty(data_dir: Path, ledger: fsio.CrashLedger) -> None:
    _write(data_dir / "LOCK", b"1234\n")
    ledger.fsync_dir(data_dir)
    power_loss(data_dir, ledger.path)
    assert (data_dir / "LOCK").read_bytes() == b""


def test_power_loss_undoes_a_rename_no_directory_fsync_covered(
        data_dir: Path, ledger: fsio.CrashLedger) -> None:
    target, temp = data_dir / "registry.json", data_dir / ".registry.json.tmp"
    _write(target, b"old", ledger)
    ledger.fsync_dir(data_dir)
    _write(temp, b"new", ledger)
    ledger.replace(temp, target)
    power_loss(data_dir, ledger.path)
    assert sorted(os.listdir(data_dir)) == ["registry.json"]
    assert target.read_bytes() == b"old"


def test_power_loss_keeps_a_rename_a_directory_fsync_covered(
        data_dir: Path, ledger: fsio.CrashLedger) -> None:
    target, temp = data_dir / "registry.json", data_dir / ".registry.json.tmp"
    _write(target, b"old", ledger)
    ledger.fsync_dir(data_dir)
    _write(temp, b"new", ledger)
    ledger.replace(temp, target)
    ledger.fsync_dir(data_dir)
    assert power_loss(data_dir, ledger.path) == []
    assert sorted(os.listdir(data_dir)) == ["registry.json"]
    assert target.read_bytes() == b"new"


def _snapshot(revision: int) -> Snapshot:
    docs = {name: {"records": [{"n": i, "revision": revision} for i in range(50)]}
            for name in snapshots.SNAPSHOT_FILES}
    return Snapshot(revision, f"{revision:064x}", 100 * revision, docs)


def test_the_last_snapshot_written_survives_a_power_loss(
        data_dir: Path, ledger: fsio.CrashLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("sync_data", "fsync_dir", "replace"):
        monkeypatch.setattr(snapshots, name, getattr(ledger, name))
    ledger.fsync_dir(data_dir)
    write_snapshot(data_dir, _snapshot(1))
    write_snapshot(data_dir, _snapshot(2))
    lost = power_loss(data_dir, ledger.path)
    snap, note = load_snapshot(data_dir)
    assert snap is not None, f"{note}; the power loss undid: {lost}"
    assert snap.revision == 2, f"snapshot {snap.revision} came back; the power loss undid: {lost}"
