"""Each legacy reader on fixtures in its tool's own format, with the variants met in the wild."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.database.migration.legacy import a1111, civitai_helper, lora_manager, stability_matrix
from backend.database.migration.legacy.claims import LegacyFormatError
from backend.database.migration.legacy.rules import decide
from backend.database.migration.legacy.sidecars import read_sidecars
from tests.legacy_formats import BOM, a1111_cache, civitai_version
from tests.legacy_formats import lora_manager as lm_json
from tests.legacy_formats import stability_matrix as sm_json

H1, H2 = "ab" * 32, "cd" * 32


def raw(data, bom: bool = False) -> bytes:
    return (BOM if bom else b"") + json.dumps(data).encode()


def test_civitai_helper_takes_the_entry_named_like_the_model_and_lowers_the_hash() -> None:
    version = civitai_version(H1, 2048, "ink.safetensors")
    claim = civitai_helper.read(raw(version, bom=True), "ink.safetensors")
    assert (claim.source, claim.sha256, claim.size, claim.size_tolerance) == ("civitai_helper", H1, 2048, 1024)
    assert claim.metadata == {
        "model_name": "Ink Style", "version_name": "v2.0", "model_type": "LORA", "base_model": "SDXL 1.0",
        "trained_words": ["inkstyle", "sketch lines"], "civitai_model_id": 101, "civitai_version_id": 201,
    }


def test_civitai_helper_with_several_files_takes_the_named_one_else_the_primary() -> None:
    version = civitai_version(H1, 2048, "ink.safetensors", with_other_files=True)
    assert civitai_helper.read(raw(version), "other_format.ckpt").sha256 == "22" * 32
    # Renamed by the user: no entry has its name, so the primary file is the one.
    assert civitai_helper.read(raw(version), "my_renamed.safetensors").sha256 == H1


def test_civitai_helper_refuses_a_bad_hash_and_missing_files() -> None:
    version = civitai_version("xyz", 2048, "ink.safetensors")
    with pytest.raises(LegacyFormatError, match="not a SHA-256"):
        civitai_helper.read(raw(version), "ink.safetensors")
    with pytest.raises(LegacyFormatError, match="files is missing"):
        civitai_helper.read(raw({"id": 1, "files": "nope"}), "ink.safetensors")
    with pytest.raises(LegacyFormatError, match="malformed JSON"):
        civitai_helper.read(b'{"id": 1, "files": [', "ink.safetensors")
    with pytest.raises(LegacyFormatError, match="expected a JSON object"):
        civitai_helper.read(b"[1, 2]", "ink.safetensors")


def test_civitai_helper_with_missing_and_wrongly_typed_fields_keeps_what_is_there() -> None:
    version = civitai_version(H1, 2048, "ink.safetensors")
    version.update(trainedWords="a, b ,", baseModel=None, modelId="42", id=True)
    version["model"] = "not an object"
    del version["files"][0]["sizeKB"]
    claim = civitai_helper.read(raw(version), "ink.safetensors")
    assert claim.size is None
    assert claim.metadata == {"version_name": "v2.0", "trained_words": ["a", "b"], "civitai_model_id": 42}


def test_lora_manager_reads_its_own_hash_and_the_civitai_part(tmp_path: Path) -> None:
    model = tmp_path / "ink.safetensors"
    model.write_bytes(b"x" * 10)
    data = lm_json(H1.upper(), 10, model, windows_path=True, civitai=civitai_version(H1, 10, "ink.safetensors"))
    claim = lora_manager.read(raw(data), "ink.safetensors")
    assert (claim.source, claim.sha256, claim.size, claim.size_tolerance) == ("lora_manager", H1, 10, 0)
    # The tool's own (user-editable) name and base model win over Civitai's.
    assert claim.metadata["model_name"] == "My Ink LoRA" and claim.metadata["civitai_version_id"] == 201


def test_lora_manager_refuses_a_file_path_naming_another_file(tmp_path: Path) -> None:
    model = tmp_path / "ink.safetensors"
    model.write_bytes(b"x")
    data = lm_json(H1, 1, model)
    data["file_path"] = "D:\\loras\\other.safetensors"
    with pytest.raises(LegacyFormatError, match="another file"):
        lora_manager.read(raw(data), "ink.safetensors")
    data.update(file_path=None, size="big")
    assert lora_manager.read(raw(data), "ink.safetensors").size is None


def test_stability_matrix_reads_the_connected_model_info() -> None:
    claim = stability_matrix.read(raw(sm_json(H2), bom=True), "portrait.safetensors")
    assert (claim.source, claim.sha256, claim.size) == ("stability_matrix", H2, None)
    assert claim.metadata == {
        "model_name": "Portrait Helper", "version_name": "v1.5", "model_type": "Checkpoint", "base_model": "SD 1.5",
        "trained_words": ["portrait"], "civitai_model_id": 555, "civitai_version_id": 777,
    }
    with pytest.raises(LegacyFormatError, match="Hashes"):
        stability_matrix.read(raw({"ModelName": "x"}), "portrait.safetensors")


def test_a1111_matches_checkpoints_by_relative_path_and_loras_by_name() -> None:
    cache = a1111_cache({
        "checkpoint/sdxl\\base.safetensors": (100.5, H1.upper()),  # written on Windows
        "lora/ink": (200.0, H2),
        "textual_inversion/ghost": (1.0, H1),
        "lora/twice": (1.0, H1),
        "upscaler/x": (1.0, H1),
        "lora/bad": (1.0, "nope"),
    })
    entries, problems = a1111.read_cache(raw(cache))
    files = ["models/Stable-diffusion/sdxl/base.safetensors", "models/Lora/styles/ink.safetensors",
             "models/Lora/twice.safetensors", "models/LyCORIS/twice.pt", "models/VAE/vae.pt"]
    claims, unmatched = a1111.match_files(entries, files)
    assert {path: (c.sha256, c.mtime_s) for path, c in claims.items()} == {
        "models/Stable-diffusion/sdxl/base.safetensors": (H1, 100.5),
        "models/Lora/styles/ink.safetensors": (H2, 200.0),
    }
    assert sorted(key for key, _ in problems + unmatched) == [
        "lora/bad", "lora/twice", "textual_inversion/ghost", "upscaler/x"]


def test_a1111_refuses_a_cache_that_is_not_one() -> None:
    with pytest.raises(LegacyFormatError):
        a1111.read_cache(raw({"hashes": [1, 2]}))
    with pytest.raises(LegacyFormatError, match="larger than"):
        a1111.read_cache(b" " * (33 * 1024 * 1024))


def test_every_side_car_is_read_and_a_bad_one_is_reported_alone() -> None:
    sidecars = [("/m/ink.civitai.info", raw(civitai_version(H1, 1, "ink.safetensors"))),
                ("/m/ink.cm-info.json", b"{ not json"), ("/m/ink.txt", b"ignored")]
    claims, problems = read_sidecars("ink.safetensors", sidecars)
    assert [c.source for c in claims] == ["civitai_helper"]
    assert problems == [("/m/ink.cm-info.json", "stability_matrix", problems[0][2])]
    assert "malformed JSON" in problems[0][2]


def test_rules_trust_only_what_the_disk_confirms() -> None:
    civitai = civitai_helper.read(raw(civitai_version(H1, 10_000, "a.safetensors")), "a.safetensors")
    assert decide(10_000, 0, [civitai]).sha256 == H1
    assert decide(10_500, 0, [civitai]).sha256 == H1  # within Civitai's KB rounding
    stale = decide(12_000, 0, [civitai])
    assert stale.sha256 is None and stale.stale[0][0] == "civitai_helper"

    entries, _ = a1111.read_cache(raw(a1111_cache({"lora/a": (1000.25, H1)})))
    webui = a1111.match_files(entries, ["models/Lora/a.safetensors"])[0]["models/Lora/a.safetensors"]
    assert decide(1, 1_000_250_000_000, [webui]).sha256 == H1
    assert decide(1, 1_000_260_000_000, [webui]).stale == [
        ("a1111", "the file was modified after the source hashed it")]

    conflict = decide(10_000, 0, [civitai, stability_matrix.read(raw(sm_json(H2)), "a.safetensors")])
    assert conflict.sha256 is None
    assert conflict.conflict == [("civitai_helper", H1), ("stability_matrix", H2)]


def test_a_hub_id_is_a_positive_ascii_integer() -> None:
    from backend.database.migration.legacy.claims import hub_id

    assert [hub_id(v) for v in (12, "34", " 56 ", "²", "٣", "0", -1, True, "1e3", None)] == [
        12, 34, 56, None, None, None, None, None, None, None]
