"""What a safetensors __metadata__ says: kohya's training facts (ss_*), Stability's model spec (modelspec.*).

Every value there is a string (the format allows nothing else); numbers and JSON inside them are parsed here,
and a value that does not parse is kept as the string it is. Nothing in it is trusted to be well formed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from services.hasher.headers.classify import UNKNOWN

# Trigger-word candidates kept: the most frequent training tags, then what the model spec names.
MAX_TRIGGER_WORDS = 20
# Dataset tags kept with their counts, for a person to see what a LoRA was trained on.
MAX_DATASET_TAGS = 20
# __metadata__ kept as it is (for a person to read), without the values that are large by nature.
MAX_KEPT_VALUE_CHARS = 2048
MAX_KEPT_TOTAL_CHARS = 16_384
_NOT_KEPT = frozenset({"ss_tag_frequency", "ss_dataset_dirs", "ss_bucket_info", "ss_datasets", "modelspec.thumbnail"})

# ss_* key -> its name in the training facts.
_TRAINING_KEYS = {
    "ss_network_module": "network_module", "ss_network_dim": "network_dim", "ss_network_alpha": "network_alpha",
    "ss_resolution": "resolution", "ss_num_train_images": "num_train_images", "ss_epoch": "epochs",
    "ss_num_epochs": "epochs", "ss_steps": "steps", "ss_max_train_steps": "max_steps",
    "ss_base_model_version": "base_model_version", "ss_sd_model_name": "sd_model_name",
    "ss_output_name": "output_name", "ss_learning_rate": "learning_rate", "ss_training_comment": "comment",
    "modelspec.architecture": "modelspec_architecture", "modelspec.resolution": "modelspec_resolution",
    "modelspec.implementation": "modelspec_implementation", "modelspec.date": "date",
}
# Architecture names of the model spec and of kohya's ss_base_model_version, first match wins.
_ARCHITECTURE_PATTERNS = (
    (re.compile(r"stable-diffusion-xl|^sdxl"), "sdxl"),
    (re.compile(r"stable-diffusion-v1|^sd_v1|^sd1"), "sd1"),
    (re.compile(r"stable-diffusion-v2|^sd_v2|^sd_2|^sd2"), "sd2"),
    (re.compile(r"stable-diffusion-v3|stable-diffusion-3|^sd3"), "sd3"),
    (re.compile(r"^flux"), "flux"),
)


def training_facts(metadata: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    """(trigger-word candidates, facts by field name) from a __metadata__."""
    facts: dict[str, Any] = {}
    training = {name: _number_or_text(metadata[key]) for key, name in _TRAINING_KEYS.items() if key in metadata}
    tags = _tag_frequency(metadata.get("ss_tag_frequency"))
    if tags:
        training["dataset_tags"] = [{"tag": tag, "count": count} for tag, count in tags[:MAX_DATASET_TAGS]]
    if training:
        facts["training"] = training
    if title := metadata.get("modelspec.title", "").strip():
        facts["title"] = title
    kept = _kept(metadata)
    if kept:
        facts["embedded_metadata"] = kept
    phrases = [p.strip() for p in metadata.get("modelspec.trigger_phrase", "").split(",")]
    return _unique([tag for tag, _ in tags] + phrases)[:MAX_TRIGGER_WORDS], facts


def architecture_from_metadata(metadata: dict[str, str]) -> str:
    """What the file's metadata names, when its tensors did not tell (a LoRA of an unusual layout)."""
    for key in ("modelspec.architecture", "ss_base_model_version"):
        value = metadata.get(key, "").lower()
        for pattern, architecture in _ARCHITECTURE_PATTERNS:
            if pattern.search(value):
                return architecture
    return UNKNOWN


def _tag_frequency(raw: str | None) -> list[tuple[str, int]]:
    """kohya's {dataset folder: {tag: count}}, summed over folders, most frequent first (then by name)."""
    try:
        folders = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return []
    totals: dict[str, int] = {}
    for tags in folders.values() if isinstance(folders, dict) else ():
        for tag, count in tags.items() if isinstance(tags, dict) else ():
            if isinstance(count, int) and not isinstance(count, bool) and isinstance(tag, str) and tag.strip():
                totals[tag.strip()] = totals.get(tag.strip(), 0) + count
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def _unique(words: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for word in words:
        if word and word.lower() not in seen:
            seen.add(word.lower())
            kept.append(word)
    return kept


def _kept(metadata: dict[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    total = 0
    for key, value in sorted(metadata.items()):
        if key in _NOT_KEPT or len(value) > MAX_KEPT_VALUE_CHARS or total + len(value) > MAX_KEPT_TOTAL_CHARS:
            continue
        kept[key] = value
        total += len(key) + len(value)
    return kept


def _number_or_text(value: str) -> Any:
    text = value.strip()
    if re.fullmatch(r"-?\d{1,18}", text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else text
