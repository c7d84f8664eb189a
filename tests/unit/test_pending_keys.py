"""Pending preview keys: the file name when it is safe, always a key the image store accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.util.image_keys import pending_image_key, validate_key


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("style", "pending/style.webp"),
        ("my lora v2.1", "pending/my lora v2.1.webp"),
        ("..hidden", "pending/_.hidden.webp"),
        (".dot", "pending/_.dot.webp"),
        ("tab\there", "pending/tab_here.webp"),
        ("a..b", "pending/a_.b.webp"),
    ],
)
def test_names_become_valid_keys(name: str, expected: str) -> None:
    key = pending_image_key(name, f"/models/{name}.safetensors", suffixed=False)
    validate_key(key)
    assert key == expected


def test_suffix_is_deterministic_and_distinct_per_path() -> None:
    one = pending_image_key("same", "/models/a/same.safetensors", suffixed=True)
    two = pending_image_key("same", "/models/b/same.safetensors", suffixed=True)
    assert one == pending_image_key("same", "/models/a/same.safetensors", suffixed=True)
    assert one != two and one.startswith("pending/same-") and two.startswith("pending/same-")
    validate_key(one)


def test_a_very_long_name_is_cut_to_a_file_the_disk_takes(tmp_path: Path) -> None:
    """300 two-byte characters: 600 bytes, over any file system's 255. The preview still lands on disk, named by
    the start of the model's name, whole characters only, and two such models keep a preview each."""
    long_name = "é" * 300
    one = pending_image_key(long_name, "/models/a/long.safetensors", suffixed=True)
    two = pending_image_key(long_name, "/models/b/long.safetensors", suffixed=True)
    for key in (one, two):
        validate_key(key)
        (tmp_path / key).parent.mkdir(exist_ok=True)
        (tmp_path / key).write_bytes(b"webp")  # ENAMETOOLONG if the cut were missing
    assert sorted(p.name for p in (tmp_path / "pending").iterdir()) == sorted([one[8:], two[8:]])
    stem = one.removeprefix("pending/").rsplit("-", 1)[0]
    assert stem == "é" * 100 and len(one.removeprefix("pending/").encode()) <= 255
