"""Pending preview keys: the file name when it is safe, always a key the image store accepts."""

from __future__ import annotations

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


def test_a_very_long_name_is_cut_to_fit() -> None:
    key = pending_image_key("é" * 300, "/models/long.safetensors", suffixed=True)
    validate_key(key)
