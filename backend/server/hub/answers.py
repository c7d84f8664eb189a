"""A hub's answer checked and read into typed records: anything of the wrong shape is refused, never half-used.

The shape is Civitai's model version (GET /api/v1/model-versions/{id}); the by-hash calls answer the same objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from backend.server.hub.plain_text import plain_text
from backend.util.sha256_text import is_sha256

# A description longer than this is cut: it is shown as text beside the model, not as a page of its own.
MAX_DESCRIPTION_CHARS = 20_000
MAX_TEXT_CHARS = 1_000
MAX_TRAINED_WORDS = 200


class AnswerError(ValueError):
    """The hub answered something that is not a model version (or a list of them); the message says what."""


# An image the hub gave no level: not known to be safe, so never under any ceiling.
UNRATED = 1 << 30


@dataclass(frozen=True)
class HubImage:
    url: str
    nsfw_level: int

    @property
    def rated(self) -> bool:
        return self.nsfw_level != UNRATED


@dataclass(frozen=True)
class HubVersion:
    """What ModelVault keeps of one model version, for one of its files' SHA-256."""

    sha256: str
    version_id: int
    model_id: int
    model_name: str | None
    version_name: str | None
    model_type: str | None
    base_model: str | None
    trained_words: tuple[str, ...]
    description: str | None
    nsfw_level: int | None
    # Every still image of the version, in the hub's order (videos are no preview).
    images: tuple[HubImage, ...]

    def page_url(self, hub_url: str) -> str:
        return f"{hub_url}/models/{self.model_id}?modelVersionId={self.version_id}"

    def preview(self, max_nsfw_level: int) -> HubImage | None:
        """The first image at or under the ceiling (an image's nsfwLevel is one of 1, 2, 4, 8, 16)."""
        return next((image for image in self.images if image.nsfw_level <= max_nsfw_level), None)


def _optional(value: Any, kind: type, where: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise AnswerError(f"{where} must be {kind.__name__} or null, got {type(value).__name__}")
    return value


def _text(value: Any, where: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    found = _optional(value, str, where)
    if found is None or not found.strip():
        return None
    return found.strip()[:limit]


def _id(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise AnswerError(f"{where} must be a positive integer, got {value!r:.80}")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AnswerError(f"{where} must be an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AnswerError(f"{where} must be a list, got {type(value).__name__}")
    return value


def _file_hashes(version: dict[str, Any]) -> set[str]:
    """The SHA-256s of the version's files, lower case (Civitai writes them upper case)."""
    found = set()
    for i, entry in enumerate(_list(version.get("files"), "files")):
        hashes = _object(_object(entry, f"files[{i}]").get("hashes", {}), f"files[{i}].hashes")
        sha256 = _optional(hashes.get("SHA256"), str, f"files[{i}].hashes.SHA256")
        if sha256 is not None:
            if not is_sha256(sha256):
                raise AnswerError(f"files[{i}].hashes.SHA256 is not a SHA-256: {sha256!r:.80}")
            found.add(sha256.lower())
    return found


def _words(value: Any) -> tuple[str, ...]:
    words = []
    for i, word in enumerate(_list(value, "trainedWords")[:MAX_TRAINED_WORDS]):
        text = _text(word, f"trainedWords[{i}]")
        if text is not None and text not in words:
            words.append(text)
    return tuple(words)


def _images(value: Any) -> tuple[HubImage, ...]:
    images = []
    for i, entry in enumerate(_list(value, "images")):
        image = _object(entry, f"images[{i}]")
        url = _optional(image.get("url"), str, f"images[{i}].url")
        level = _optional(image.get("nsfwLevel"), int, f"images[{i}].nsfwLevel")
        kind = _optional(image.get("type"), str, f"images[{i}].type") or "image"
        if url and kind == "image":
            images.append(HubImage(url, level if level is not None and level > 0 else UNRATED))
    return tuple(images)


def read_version(value: Any, where: str = "the answer") -> tuple[set[str], dict[str, Any]]:
    """A version object's file hashes and the object itself, its every kept field checked."""
    version = _object(value, where)
    try:
        _id(version.get("id"), "id")
        _id(version.get("modelId"), "modelId")
        model = _object(version.get("model", {}), "model")
        for name in ("name", "type"):
            _text(model.get(name), f"model.{name}")
        _optional(model.get("nsfw"), bool, "model.nsfw")
        for name in ("name", "baseModel"):
            _text(version.get(name), name)
        _optional(version.get("description"), str, "description")
        _optional(version.get("nsfwLevel"), int, "nsfwLevel")
        _words(version.get("trainedWords"))
        _images(version.get("images"))
        hashes = _file_hashes(version)
    except AnswerError as exc:
        raise AnswerError(f"{where}: {exc}") from None
    return hashes, version


def record(sha256: str, version: dict[str, Any]) -> HubVersion:
    """The typed record of a version read_version accepted."""
    model = version.get("model") or {}
    description = version.get("description")
    return HubVersion(
        sha256=sha256,
        version_id=version["id"],
        model_id=version["modelId"],
        model_name=_text(model.get("name"), "model.name"),
        version_name=_text(version.get("name"), "name"),
        model_type=_text(model.get("type"), "model.type"),
        base_model=_text(version.get("baseModel"), "baseModel"),
        trained_words=_words(version.get("trainedWords")),
        # The hub sends HTML; only its text is kept, so nothing from the hub can ever run in the page.
        description=plain_text(description)[:MAX_DESCRIPTION_CHARS] or None if description else None,
        nsfw_level=version.get("nsfwLevel"),
        images=_images(version.get("images")),
    )


def match_bulk(answer: Any, asked: Iterable[str]) -> dict[str, HubVersion]:
    """The bulk call's list matched back to the asked hashes by files[].hashes.SHA256; the absent were not found."""
    if not isinstance(answer, list):
        raise AnswerError(f"the answer must be a list of model versions, got {type(answer).__name__}")
    wanted = set(asked)
    found: dict[str, HubVersion] = {}
    for i, entry in enumerate(answer):
        hashes, version = read_version(entry, f"version [{i}]")
        for sha256 in sorted(hashes & wanted):
            found.setdefault(sha256, record(sha256, version))
    return found


def match_single(answer: Any, sha256: str) -> HubVersion | None:
    """The single call's version, if one of its files really has this hash (else the hub answered another)."""
    hashes, version = read_version(answer)
    if sha256 not in hashes:
        raise AnswerError(f"the version answered for {sha256} lists no file with that SHA-256")
    return record(sha256, version)
