"""A staged preview's key names the gateway start that wrote it, and only such keys are read as staged."""

from __future__ import annotations

import uuid

from backend.util.image_keys import staged_image_key, staged_owner, validate_key


def test_a_staged_key_names_its_gateway_and_is_a_valid_pending_key() -> None:
    start_id = uuid.uuid4().hex
    key = staged_image_key(start_id)
    validate_key(key)
    assert key.startswith(f"pending/~staged-{start_id}-") and staged_image_key(start_id) != key
    assert staged_owner(key.removeprefix("pending/")) == start_id


def test_other_names_have_no_owner() -> None:
    for name in (f"~staged-{uuid.uuid4().hex}.webp",  # staged before keys named their gateway
                 "model.webp", f"~staged-{'g' * 32}-{uuid.uuid4().hex}.webp",
                 f"~staged-{uuid.uuid4().hex}-{uuid.uuid4().hex}.webp.tmp"):
        assert staged_owner(name) is None, name
