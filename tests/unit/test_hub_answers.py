"""A hub's answers read strictly: the matching by hash, the preview under the ceiling, and text without markup."""

from __future__ import annotations

import pytest

from backend.server.hub.answers import AnswerError, match_bulk, match_single
from backend.server.hub.lookups import MAX_HUB_IMAGES, hub_fields
from backend.server.hub.plain_text import plain_text
from tests.integration.fake_hub import image, version

A, B, C = "a" * 64, "b" * 64, "c" * 64


def test_bulk_answers_are_matched_back_by_any_files_sha256_in_any_case() -> None:
    two_files = version(A)
    two_files["files"].append({**two_files["files"][0], "hashes": {"SHA256": B.upper()}})
    found = match_bulk([two_files], [A, B, C])
    assert sorted(found) == [A, B] and found[B].model_name == "Ink Style"
    assert match_bulk([], [A]) == {}


@pytest.mark.parametrize(("answer", "words"), [
    ({"id": 1}, "must be a list"),
    ([version(A, id=True)], "id must be a positive integer"),
    ([version(A, trainedWords="ink")], "trainedWords must be a list"),
    ([version(A, model={"name": 3})], "model.name must be str or null"),
    ([version(A, files=[{"hashes": {"SHA256": "not a hash"}}])], "is not a SHA-256"),
    ([version(A, images=[{"url": "x", "nsfwLevel": "1"}])], "images[0].nsfwLevel must be int"),
])
def test_a_wrong_type_anywhere_refuses_the_whole_answer(answer, words: str) -> None:
    with pytest.raises(AnswerError) as refused:
        match_bulk(answer, [A])
    assert words in str(refused.value)


def test_a_single_answer_for_another_file_is_refused() -> None:
    with pytest.raises(AnswerError, match="lists no file with that SHA-256"):
        match_single(version(B), A)


def test_the_preview_is_the_first_still_image_at_or_under_the_ceiling() -> None:
    images = [image("v", 1, kind="video"), image("x", 8), {"url": "unrated"}, image("r", 4), image("pg", 1)]
    record = match_single(version(A, images=images), A)
    assert record.preview(1).url == "pg" and record.preview(4).url == "r" and record.preview(16).url == "x"
    assert match_single(version(A, images=[image("x", 8)]), A).preview(1) is None


@pytest.mark.parametrize(("html", "text"), [
    ("<p>Use <b>ink</b> &amp; paper&nbsp;</p>", "Use ink & paper"),
    ("a<script>alert(1)</script>b<style>p{}</style>c", "abc"),
    ("<p>one<br>two</p><ul><li>three</li></ul>", "one\ntwo\n\nthree"),
    ("<img src=x onerror=alert(1)><!-- note -->&lt;script&gt;", "<script>"),
    ("<p>unclosed <b>bold", "unclosed bold"),
])
def test_html_becomes_its_text(html: str, text: str) -> None:
    assert plain_text(html) == text


def test_the_hub_pictures_kept_are_the_first_still_images_with_their_level_or_none() -> None:
    images = [image("https://image.civitai.com/clip.mp4", kind="video"), {"url": "https://image.civitai.com/u.png"},
              *(image(f"https://image.civitai.com/{i}.png", 4) for i in range(30))]
    kept = dict((field, value) for _, field, value in hub_fields(match_single(version(A, images=images), A),
                                                                 "https://civitai.com"))["hub_images"]
    assert len(kept) == MAX_HUB_IMAGES == 20
    assert kept[:2] == [{"url": "https://image.civitai.com/u.png", "nsfw_level": None},
                        {"url": "https://image.civitai.com/0.png", "nsfw_level": 4}]
    none = hub_fields(match_single(version(A, images=[image("https://image.civitai.com/v.mp4", kind="video")]), A), "")
    assert "hub_images" not in {field for _, field, _ in none}
