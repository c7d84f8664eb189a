"""Which devices are spinning disks, read from a /sys tree laid out as the kernel lays it out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.server.jobs.watch import affected_folders
from services.hasher.disks import DiskReaders, is_rotational


@pytest.fixture
def sys_dev_block(tmp_path: Path) -> Path:
    disks = tmp_path / "devices" / "block"
    for name, rotational in (("sda", "1"), ("nvme0n1", "0")):
        (disks / name / "queue").mkdir(parents=True)
        (disks / name / "queue" / "rotational").write_text(rotational + "\n")
    (disks / "sda" / "sda2").mkdir()  # a partition: no queue/ of its own
    links = tmp_path / "dev" / "block"
    links.mkdir(parents=True)
    (links / "8:0").symlink_to(disks / "sda")
    (links / "8:2").symlink_to(disks / "sda" / "sda2")
    (links / "259:0").symlink_to(disks / "nvme0n1")
    return links


def test_a_disk_and_its_partitions_are_rotational_an_ssd_and_unknown_devices_are_not(sys_dev_block: Path) -> None:
    assert is_rotational(os.makedev(8, 0), sys_dev_block)
    assert is_rotational(os.makedev(8, 2), sys_dev_block)
    assert not is_rotational(os.makedev(259, 0), sys_dev_block)
    assert not is_rotational(os.makedev(0, 42), sys_dev_block)  # tmpfs, overlay: no block device


def test_the_override_decides_without_asking_sys() -> None:
    assert DiskReaders("all", 1).rotational(os.makedev(259, 0))
    assert not DiskReaders("none", 1).rotational(os.makedev(8, 0))


def test_changes_are_rescanned_by_their_outermost_existing_folder(tmp_path: Path) -> None:
    root = tmp_path / "models"
    (root / "loras" / "new").mkdir(parents=True)
    changes = [
        str(root / "loras" / "a.safetensors"),
        str(root / "loras" / "new" / "b.safetensors"),
        str(root / "gone" / "deeper" / "c.safetensors"),  # a folder moved away: its parent is rescanned
        str(tmp_path / "elsewhere" / "d.safetensors"),
    ]
    assert affected_folders(changes, (root,)) == [str(root)]
    assert affected_folders(changes[:2], (root,)) == [str(root / "loras")]
