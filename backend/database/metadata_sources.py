"""Which source wins when several name the same field of one content: the rule, in one place.

0. What a person told ModelVault itself (its notes, tags and favourite flag, `PUT /api/models/{sha256}/notes`):
   source "you"; nothing else ever writes over it.
1. A person's own notes in a side-car (what they typed is never overwritten by what a machine found).
2. The hub (Civitai's current answer for this exact file, asked by its SHA-256).
3. The file's own header (safetensors `__metadata__`, GGUF keys): true of the file, but often left empty or
   generic by whoever trained it.
4. The other tools' caches: Civitai Helper's and Stability Matrix's side-cars are copies of an older hub
   answer, Lora-Manager's also holds placeholders ("Unknown", the file's stem), A1111's only hashes.

A field is written only by a source ranked at or above the one it came from; an equal source replaces its own
older value (a hub refresh). No source's value is merged into another's: each field has one source, shown.
"""

from __future__ import annotations

# What the person told ModelVault itself.
YOU = "you"
# The side-car a person writes: A1111/Forge's `<stem>.json` user metadata (legacy/a1111_user_metadata.py).
PERSON_SOURCES = ("a1111_user_metadata",)
HUB_SOURCES = ("civitai",)
HEADER_SOURCES = ("safetensors", "gguf", "pickle")
TOOL_SOURCES = ("civitai_helper", "stability_matrix", "lora_manager", "a1111")

SOURCE_PRIORITY = (YOU,) + PERSON_SOURCES + HUB_SOURCES + HEADER_SOURCES + TOOL_SOURCES


def rank(source: str) -> int:
    """Lower wins; a source this code does not know ranks last (it cannot overwrite a known one)."""
    return SOURCE_PRIORITY.index(source) if source in SOURCE_PRIORITY else len(SOURCE_PRIORITY)
