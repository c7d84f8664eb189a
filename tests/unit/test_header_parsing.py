"""Headers of real files written by the safetensors and gguf packages: type, architecture, facts, and notes."""

from __future__ import annotations

import base64
import json
import pickle
import struct
from pathlib import Path

import gguf
import pytest

from services.hasher.headers import gguf_names
from services.hasher.headers.errors import HeaderError
from services.hasher.headers.model_header import read_header
from services.hasher.headers.safetensors_header import MAX_HEADER_BYTES
from services.hasher.headers.thumbnail import read_thumbnail
from tests import model_layouts as layouts

LAYOUTS = {
    "sd1_checkpoint": (layouts.sd_checkpoint(768), "checkpoint", "sd1"),
    "sd2_checkpoint": (layouts.sd_checkpoint(1024), "checkpoint", "sd2"),
    "sdxl_checkpoint": (layouts.sdxl_checkpoint(), "checkpoint", "sdxl"),
    "sd3_checkpoint": (layouts.sd3_checkpoint(), "checkpoint", "sd3"),
    "flux_diffusion_model": (layouts.flux_diffusion_model(), "checkpoint", "flux"),
    "sd1_lora": (layouts.kohya_lora(768), "lora", "sd1"),
    "sd2_lora": (layouts.kohya_lora(1024, text_encoder_width=1024), "lora", "sd2"),
    "sdxl_lora": (layouts.kohya_lora(2048, sdxl=True), "lora", "sdxl"),
    "sd1_text_encoder_only_lora": ({k: v for k, v in layouts.kohya_lora(768).items() if "_te_" in k}, "lora", "sd1"),
    "loha": (layouts.loha_lycoris(1024), "lora", "sd2"),
    "flux_lora": (layouts.flux_lora(), "lora", "flux"),
    "vae": (layouts.vae(4), "vae", "unknown"),
    "sd1_embedding": (layouts.sd1_embedding(), "embedding", "sd1"),
    "sdxl_embedding": (layouts.sdxl_embedding(), "embedding", "sdxl"),
    "sd1_controlnet": (layouts.sd1_controlnet(), "controlnet", "sd1"),
    "upscaler": (layouts.esrgan_upscaler(), "upscaler", "unknown"),
    "clip_l": (layouts.clip_l_text_encoder(), "text_encoder", "unknown"),
    "something_else": ({"weight": (4, 4)}, "unknown", "unknown"),
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_type_and_architecture_come_from_the_tensor_layout(tmp_path: Path, name: str) -> None:
    shapes, model_type, architecture = LAYOUTS[name]
    header = read_header(layouts.write_safetensors(tmp_path / f"{name}.safetensors", shapes))
    assert (header.format, header.model_type, header.architecture, header.error) == (
        "safetensors", model_type, architecture, "")


def test_an_inpainting_checkpoint_and_a_diffusers_lora_are_told(tmp_path: Path) -> None:
    inpainting = layouts.sd_checkpoint(768) | {"model.diffusion_model.input_blocks.0.0.weight": (8, 9, 3, 3)}
    header = read_header(layouts.write_safetensors(tmp_path / "inpaint.safetensors", inpainting))
    assert (header.architecture, header.facts["variant"]) == ("sd1", "inpainting")
    layer = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora"
    old_diffusers = {f"{layer}.down.weight": (4, 2048), f"{layer}.up.weight": (640, 4)}
    header = read_header(layouts.write_safetensors(tmp_path / "pytorch_lora_weights.safetensors", old_diffusers))
    assert (header.model_type, header.architecture) == ("lora", "sdxl")


def test_a_lycoris_file_says_so_and_a_vae_names_its_latent_channels(tmp_path: Path) -> None:
    loha = read_header(layouts.write_safetensors(tmp_path / "loha.safetensors", layouts.loha_lycoris(768)))
    flux_vae = read_header(layouts.write_safetensors(tmp_path / "ae.safetensors", layouts.vae(16)))
    assert loha.facts["network"] == "lycoris"
    assert (flux_vae.model_type, flux_vae.facts["latent_channels"]) == ("vae", 16)


def test_kohya_metadata_gives_trigger_words_and_training_facts(tmp_path: Path) -> None:
    path = layouts.write_safetensors(tmp_path / "alice.safetensors", layouts.kohya_lora(768),
                                     layouts.kohya_metadata())
    header = read_header(path)
    # 1girl 43, alice 40, smile 12, outdoors 3: most frequent first, then the model spec's phrases, once each.
    assert header.trigger_words == ["1girl", "alice", "smile", "outdoors", "smiling"]
    training = header.facts["training"]
    assert {k: training[k] for k in ("network_dim", "network_alpha", "resolution", "num_train_images", "epochs",
                                     "steps", "base_model_version", "output_name")} == {
        "network_dim": 16, "network_alpha": 8.0, "resolution": "(512, 512)", "num_train_images": 120, "epochs": 10,
        "steps": 1200, "base_model_version": "sd_v1", "output_name": "alice_v2"}
    assert training["dataset_tags"][:2] == [{"tag": "1girl", "count": 43}, {"tag": "alice", "count": 40}]
    assert header.facts["title"] == "Alice"
    assert header.facts["embedded_metadata"]["ss_network_module"] == "networks.lora"
    assert "ss_tag_frequency" not in header.facts["embedded_metadata"]


def test_metadata_names_the_architecture_only_where_the_tensors_do_not(tmp_path: Path) -> None:
    odd = {"lora_unet_some_block.lora_down.weight": (4, 64), "lora_unet_some_block.lora_up.weight": (64, 4)}
    said = read_header(layouts.write_safetensors(tmp_path / "a.safetensors", odd,
                                                 {"modelspec.architecture": "stable-diffusion-xl-v1-base/lora"}))
    contradicted = read_header(layouts.write_safetensors(tmp_path / "b.safetensors", layouts.kohya_lora(768),
                                                         {"ss_base_model_version": "sdxl_base_v1-0"}))
    assert (said.architecture, contradicted.architecture) == ("sdxl", "sd1")


def test_a_broken_header_is_the_files_note(tmp_path: Path) -> None:
    good = layouts.write_safetensors(tmp_path / "good.safetensors", layouts.sd1_embedding()).read_bytes()
    cases = {
        "empty": b"",
        "truncated_length": b"\x10\x00",
        "truncated_header": good[:20],
        "oversized": struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}",
        "not_json": struct.pack("<Q", 4) + b"nope",
        "a_list": struct.pack("<Q", 2) + b"[]",
        "bad_shape": struct.pack("<Q", 30) + b'{"w": {"shape": "big", "x": 1}}'[:30],
    }
    for name, content in cases.items():
        (tmp_path / f"{name}.safetensors").write_bytes(content)
        header = read_header(tmp_path / f"{name}.safetensors")
        assert header.format == "safetensors" and header.error and header.model_type == "unknown", name
    assert "over the 100000000-byte limit" in read_header(tmp_path / "oversized.safetensors").error


def test_a_pickle_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    for suffix in (".ckpt", ".pt", ".bin"):
        (tmp_path / f"model{suffix}").write_bytes(pickle.dumps(Exploit()))
        header = read_header(tmp_path / f"model{suffix}")
        assert (header.format, header.model_type, header.architecture) == ("pickle", "unknown", "unknown")
    assert not marker.exists()


def test_gguf_gives_its_name_quantization_context_and_size(tmp_path: Path) -> None:
    path = layouts.write_gguf(tmp_path / "tiny.gguf", "llama", name="Tiny Llama", size_label="1.1B",
                              file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M, context_length=2048, quantized_tensors=2,
                              float_tensors={"output_norm.weight": (8,)},
                              extra={"llama.rope.scale": (0.5, gguf.GGUFValueType.FLOAT32),
                                     "tiny.flags": ([True, False], gguf.GGUFValueType.ARRAY),
                                     "tiny.big": (2**40, gguf.GGUFValueType.UINT64),
                                     "tiny.neg": (-3, gguf.GGUFValueType.INT16)})
    header = read_header(path)
    assert (header.format, header.architecture, header.error) == ("gguf", "llama", "")
    facts = header.facts
    assert (facts["title"], facts["size_label"], facts["quantization"], facts["context_length"]) == (
        "Tiny Llama", "1.1B", "Q4_K_M", 2048)
    assert facts["parameter_count"] == 2 * 256 * 2 + 8  # counted from the tensor infos: none was declared
    assert facts["embedded_metadata"]["tokenizer.ggml.tokens"] == {"array_length": 100}
    assert facts["embedded_metadata"]["tiny.flags"] == [True, False]
    assert facts["embedded_metadata"]["tiny.big"] == 2**40 and facts["embedded_metadata"]["tiny.neg"] == -3


def test_a_comfyui_gguf_without_file_type_is_named_by_its_tensors(tmp_path: Path) -> None:
    header = read_header(layouts.write_gguf(tmp_path / "flux1-dev-Q4_K.gguf", "flux", quantized_tensors=3,
                                            float_tensors={"img_in.bias": (8,)}))
    assert (header.model_type, header.architecture, header.facts["quantization"]) == ("checkpoint", "flux", "Q4_K")


def test_gguf_names_are_llama_cpps_own() -> None:
    for number, name in gguf_names.FILE_TYPES.items():
        assert gguf.LlamaFileType(number).name.removeprefix("MOSTLY_").removeprefix("ALL_") == name
    for number, name in gguf_names.TENSOR_TYPES.items():
        assert gguf.GGMLQuantizationType(number).name == name


def test_a_broken_gguf_is_the_files_note(tmp_path: Path) -> None:
    good = layouts.write_gguf(tmp_path / "good.gguf", "llama", name="x").read_bytes()
    cases = {
        "truncated": good[: len(good) // 3],
        "bad_magic": b"GGUX" + good[4:],
        "version_1": good[:4] + struct.pack("<I", 1) + good[8:],
        "big_endian": good[:4] + struct.pack(">I", 3) + good[8:],
        "absurd_count": good[:8] + struct.pack("<Q", 2**62) + good[16:],
    }
    for name, content in cases.items():
        (tmp_path / f"{name}.gguf").write_bytes(content)
        header = read_header(tmp_path / f"{name}.gguf")
        assert header.format == "gguf" and header.error, name
    assert json.dumps(read_header(tmp_path / "good.gguf").facts)


def test_strings_and_numbers_no_store_would_take_are_made_plain(tmp_path: Path) -> None:
    tags = json.dumps({"10_x": {"\ud800broken": 3, "fine\u0000tag": 2}})
    header_json = json.dumps({"emb_params": {"dtype": "F16", "shape": [1, 768], "data_offsets": [0, 1536]},
                              "__metadata__": {"ss_output_name": "a\u0000b", "ss_tag_frequency": tags}})
    raw = header_json.encode()
    (tmp_path / "odd.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(1536))
    odd = read_header(tmp_path / "odd.safetensors")
    nan = read_header(layouts.write_gguf(tmp_path / "nan.gguf", "llama", extra={
        "x.nan": (float("nan"), gguf.GGUFValueType.FLOAT32),
        "x.inf": ([float("inf"), 1.5], gguf.GGUFValueType.ARRAY)}))
    for header in (odd, nan):
        text = json.dumps({"words": header.trigger_words, "facts": header.facts}, allow_nan=False)
        text.encode("utf-8")  # no lone surrogate left
        assert "\\u0000" not in text
    assert odd.trigger_words == ["?broken", "finetag"]
    assert odd.facts["training"]["output_name"] == "ab"
    assert "x.nan" not in nan.facts["embedded_metadata"]
    assert nan.facts["embedded_metadata"]["x.inf"] == [None, 1.5]


def test_a_file_rewritten_while_its_header_is_read_is_answered_as_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.hasher import header_reply as replies
    from services.hasher.server import _identity

    path = layouts.write_safetensors(tmp_path / "lora.safetensors", layouts.kohya_lora(768))
    real_read = replies.read_header

    def read_while_a_download_rewrites_it(file: Path):
        header = real_read(file)
        layouts.write_safetensors(file, layouts.kohya_lora(2048, sdxl=True))  # another model in its place
        return header

    monkeypatch.setattr(replies, "read_header", read_while_a_download_rewrites_it)
    answer = replies.header_reply(str(path), [tmp_path], False, _identity)
    assert answer.file_error.code == 10 and "changed while its header was read" in answer.file_error.message
    assert not answer.format


def _data_uri(content: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


def test_an_embedded_thumbnail_is_decoded_from_its_data_uri(tmp_path: Path) -> None:
    path = layouts.write_safetensors(tmp_path / "a.safetensors", layouts.kohya_lora(768),
                                     {"modelspec.thumbnail": _data_uri(b"\x89PNG fake")})
    assert read_header(path).has_thumbnail
    assert read_thumbnail(path) == (b"\x89PNG fake", "image/png")
    plain = layouts.write_safetensors(tmp_path / "b.safetensors", layouts.kohya_lora(768))
    broken = layouts.write_safetensors(tmp_path / "c.safetensors", layouts.kohya_lora(768),
                                       {"modelspec.thumbnail": "data:image/png;base64,!!not base64!!"})
    (tmp_path / "d.ckpt").write_bytes(b"pickle")
    assert not read_header(plain).has_thumbnail
    for path, message in ((plain, "has no thumbnail"), (broken, "malformed"), (tmp_path / "d.ckpt", "only")):
        with pytest.raises(HeaderError, match=message):
            read_thumbnail(path)
