"""What a look-up by hash accepts: bare hashes and A1111's parameter forms, any case; anything else in words."""

from __future__ import annotations

import pytest

from backend.server.http.errors import ApiError
from backend.server.library.hash_text import WantedHash, parse_hash_text


@pytest.mark.parametrize(("text", "wanted"), [
    ("ABCDEF12", [WantedHash(None, "abcdef12")]),
    ("  Model hash: 0123456789  ", [WantedHash(None, "0123456789")]),
    ("model HASH:0123456789", [WantedHash(None, "0123456789")]),
    ('Lora hashes: "add_detail: 7c6bad76eb54, ink/lines v2: 0123456789AB"',
     [WantedHash("add_detail", "7c6bad76eb54"), WantedHash("ink/lines v2", "0123456789ab")]),
    ("TI hashes: easynegative: c74b4e810b03", [WantedHash("easynegative", "c74b4e810b03")]),
    ("style: sdxl: 7c6bad76eb54", [WantedHash("style: sdxl", "7c6bad76eb54")]),  # a colon in the name
    ("e" * 64, [WantedHash(None, "e" * 64)]),
])
def test_the_forms_a1111_writes_are_read(text: str, wanted: list[WantedHash]) -> None:
    assert parse_hash_text(text) == wanted


@pytest.mark.parametrize(("text", "says"), [
    ("abcdef1", "no hash a model is looked up by"),
    ("0x" + "a" * 10, "no hash a model is looked up by"),
    ('Lora hashes: "alice"', "not of the form 'name: hash'"),
    ("Lora hashes: " + ", ".join(f"n{i}: abcdef12" for i in range(51)), "at most 50 hashes"),
    ("a" * 4001, "at most 4000 characters"),
])
def test_anything_else_is_refused_in_words(text: str, says: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_hash_text(text)
    assert refused.value.status == 400 and says in refused.value.message
