"""Properties of the path and key checks over generated input: a clear refusal or an answer inside bounds."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backend.util import image_keys, image_store
from backend.util.image_keys import InvalidKeyError
from backend.util.model_paths import ModelPathError, normal_path, resolve_model_file, resolve_model_folder
from backend.util.sha256_text import is_sha256

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Segments that matter to a path check, mixed with arbitrary text.
SEGMENTS = st.one_of(
    st.sampled_from(["..", ".", "", "models", "inside.safetensors", "link", "loop", "outside", "\x00", "a b",
                     "lone \ud800 surrogate"]),
    st.text(max_size=12),
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model root with a file, a folder, a symlink out, a symlink loop, and a file outside the root."""
    base = tmp_path_factory.mktemp("tree").resolve()
    root = base / "models"
    (root / "folder").mkdir(parents=True)
    (root / "inside.safetensors").write_bytes(b"x")
    (base / "outside").write_bytes(b"secret")
    (root / "link").symlink_to(base / "outside")
    (root / "loop").symlink_to(root / "loop")
    return base, root


def _path(base: Path, segments: list[str], absolute: bool) -> str:
    joined = "/".join(segments)
    return f"{base}/{joined}" if absolute else joined


@SETTINGS
@given(segments=st.lists(SEGMENTS, max_size=6), absolute=st.booleans())
@example(segments=["models", "link"], absolute=True)
@example(segments=["models", "loop"], absolute=True)
@example(segments=["models", "..", "outside"], absolute=True)
def test_a_model_path_is_a_file_inside_a_root_or_a_clear_refusal(tree, segments: list[str], absolute: bool) -> None:
    base, root = tree
    try:
        file = resolve_model_file(_path(base, segments, absolute), [root])
    except ModelPathError:
        return
    assert file.resolved_path.is_relative_to(root) and file.resolved_path.is_file()
    assert file.relative_path == file.resolved_path.relative_to(root).as_posix()
    assert not os.path.islink(file.resolved_path)


@SETTINGS
@given(segments=st.lists(SEGMENTS, max_size=6), absolute=st.booleans())
def test_a_model_folder_is_a_folder_inside_a_root_or_a_clear_refusal(tree, segments: list[str], absolute: bool):
    base, root = tree
    try:
        folder = resolve_model_folder(_path(base, segments, absolute), [root])
    except ModelPathError:
        return
    assert (folder == root or folder.is_relative_to(root)) and folder.is_dir()


# Every code point, lone surrogates included: JSON may carry "\ud800", which no file system name can hold.
ANY_TEXT = st.text(alphabet=st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)))


@pytest.mark.parametrize("check", [resolve_model_file, resolve_model_folder])
@SETTINGS
@given(text=ANY_TEXT)
def test_any_text_is_answered_or_refused_as_a_path_error(tree, check, text: str) -> None:
    _, root = tree
    try:
        check(text, [root])
    except ModelPathError:
        pass


HEX = "0123456789abcdef"
# A lone surrogate can come in JSON ("\ud800") but can be no file name: it must be refused, not crash.
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
PENDING_NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/\\"), min_size=1, max_size=60
).filter(lambda n: not n.startswith(".") and ".." not in n)


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(ANY_TEXT, st.text(alphabet=HEX + "./pending", max_size=80), st.text(alphabet=HEX + "./-hub",
                                                                                          max_size=100)))
def test_any_key_is_valid_or_refused_as_invalid(key: str) -> None:
    try:
        image_keys.validate_key(key)
    except InvalidKeyError:
        return
    if key.startswith("hub/"):
        digest, _, rest = key.removeprefix("hub/").partition("-")
        assert len(digest) == 64 and len(rest) == 21 and all(c in HEX for c in digest + rest[:16])
        return
    name = key.removeprefix("pending/")
    assert key.endswith(".webp") and "/" not in name and "\\" not in name and ".." not in name
    assert (len(key) == 69 and all(c in HEX for c in key[:64])) or (
        key.startswith("pending/") and not name.startswith(".")
        and not any(c in string.whitespace[1:] or ord(c) < 32 or ord(c) == 127 for c in name)
    )


@settings(max_examples=200, deadline=None)
@given(digest=st.text(alphabet=HEX, min_size=64, max_size=64), name=PENDING_NAMES)
def test_every_key_of_the_documented_grammar_is_accepted(digest: str, name: str) -> None:
    image_keys.validate_key(f"{digest}.webp")
    image_keys.validate_key(image_keys.hub_picture_key(digest, name))
    if len(f"{name}.webp".encode()) <= image_keys.MAX_NAME_BYTES:
        image_keys.validate_key(f"pending/{name}.webp")


@SETTINGS
@given(key=st.one_of(ANY_TEXT, st.builds(lambda n, s: f"pending/{n}{s}.webp", PENDING_NAMES, st.just("") | SURROGATE)))
def test_a_key_that_resolves_stays_inside_the_store(tmp_path: Path, key: str) -> None:
    store = tmp_path / "images"
    (store / "pending").mkdir(parents=True, exist_ok=True)
    try:
        path = image_store.resolve_key(store, key)
    except InvalidKeyError:
        return
    assert path.is_relative_to(store.resolve()) and path != store.resolve()


@given(digest=st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64),
       tail=st.sampled_from(["\n", " ", "0", "g"]))
def test_a_sha256_is_exactly_64_hex_digits(digest: str, tail: str) -> None:
    assert is_sha256(digest)
    assert not is_sha256(digest + tail) and not is_sha256(digest[:-1]) and not is_sha256(None)


@SETTINGS
@given(st.lists(SEGMENTS.filter(lambda s: "\x00" not in s), max_size=6), st.integers(1, 3))
@example(["models", ".", ""], 2)
def test_a_path_has_one_spelling(segments: list[str], slashes: int) -> None:
    """'//a/./b/' is '/a/b': one leading slash, no '.' or '..', no empty name; spelling it again changes nothing."""
    path = "/" * slashes + "/".join(segments)
    normal = normal_path(path)
    assert normal == "/" or (normal.startswith("/") and not normal.startswith("//") and not normal.endswith("/"))
    names = normal.split("/")[1:] if normal != "/" else []
    assert not {".", "..", ""} & set(names)
    assert normal_path(normal) == normal == normal_path("/" + path + "/")
