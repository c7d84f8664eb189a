"""The walk's pieces on real files: preview choice, names that are not UTF-8, and the synthetic library."""

from __future__ import annotations

import os
from pathlib import Path

from backend.database.migration.shadow_tree import cli as shadow_cli
from backend.database.migration.shadow_tree.synthetic import build_synthetic_tree
from backend.util.model_files import PreviewIndex
from backend.util.model_walk import FoundModel, Unlisted, find_models


def test_the_preview_of_a_model_is_its_best_side_car_image() -> None:
    index = PreviewIndex(["ink.png", "ink.preview.jpg", "ink.v2.old.png", "ink.thumb.webp", "inky.png",
                          "a.b.png", "a.b.preview.png", "notes.txt"])
    assert index.previews("ink") == ["ink.preview.jpg", "ink.png", "ink.thumb.webp"]
    assert index.previews("a.b") == ["a.b.preview.png", "a.b.png"]
    assert index.previews("a") == ["a.b.png"]  # <stem>.<tag>.png: "b" is a tag of "a"
    assert index.previews("missing") == []


def test_the_walk_reports_names_that_are_not_utf8_and_goes_on(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "ok.safetensors").write_bytes(b"")
    raw = os.fsencode(root)
    open(raw + b"/caf\xe9.safetensors", "wb").close()
    open(raw + b"/ok.\xe9.png", "wb").close()  # a side-car whose name cannot cross gRPC is not offered
    found = list(find_models([root]))
    assert [(item.path, item.preview) for item in found if isinstance(item, FoundModel)] == [
        (str(root / "ok.safetensors"), None)]
    assert [item.path for item in found if isinstance(item, Unlisted)] == [f"{root}/caf\\xe9.safetensors"]


def test_a_synthetic_library_has_the_files_and_previews_asked_for(tmp_path: Path) -> None:
    made = build_synthetic_tree(tmp_path, 250, preview_percent=10, per_folder=100)
    models = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".png")]
    previews = list(tmp_path.rglob("*.preview.png"))
    assert (made.models, made.folders, len(models), len(previews)) == (250, 3, 250, made.previews)
    assert 5 <= made.previews <= 60 and all(p.stat().st_size == 0 for p in models)
    assert previews[0].read_bytes().startswith(b"\x89PNG")
    # The same seed makes the same library: a second run adds nothing.
    assert build_synthetic_tree(tmp_path, 250, preview_percent=10, per_folder=100).models == 250
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 250 + made.previews


def test_the_shadow_command_makes_a_synthetic_tree(tmp_path: Path, capsys) -> None:
    assert shadow_cli.main(["--synthetic", "20", "--dest", str(tmp_path)]) == 0
    assert "20 synthetic shadow models" in capsys.readouterr().out
    assert len([p for p in tmp_path.rglob("*.*") if p.is_file()]) == 20
