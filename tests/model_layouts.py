"""Real model files written by the formats' own packages (safetensors, gguf), with the tensor names real models
have and tiny shapes: only the decisive widths (a UNet's cross-attention context, a LoRA's rank) are real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from safetensors.numpy import save_file


def tensors(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    return {name: np.zeros(shape, dtype=np.float16) for name, shape in shapes.items()}


def write_safetensors(path: Path, shapes: dict[str, tuple[int, ...]], metadata: dict[str, str] | None = None
                      ) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors(shapes), str(path), metadata=metadata)
    return path


_UNET = "model.diffusion_model."


def sd_checkpoint(context: int) -> dict[str, tuple[int, ...]]:
    """An SD 1.x (768) or 2.x (1024) checkpoint: UNet, VAE and text encoder under their ldm prefixes."""
    return {
        f"{_UNET}input_blocks.0.0.weight": (8, 4, 3, 3),
        f"{_UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (8, context),
        f"{_UNET}out.2.weight": (4, 8, 3, 3),
        "first_stage_model.decoder.conv_in.weight": (8, 4, 3, 3),
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (4, context),
    }


def sdxl_checkpoint() -> dict[str, tuple[int, ...]]:
    return {
        f"{_UNET}input_blocks.0.0.weight": (8, 4, 3, 3),
        f"{_UNET}label_emb.0.0.weight": (8, 2816),
        f"{_UNET}input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (8, 2048),
        "first_stage_model.decoder.conv_in.weight": (8, 4, 3, 3),
        "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": (4, 768),
        "conditioner.embedders.1.model.token_embedding.weight": (4, 1280),
    }


def sd3_checkpoint() -> dict[str, tuple[int, ...]]:
    return {f"{_UNET}joint_blocks.0.context_block.attn.qkv.weight": (12, 4),
            f"{_UNET}x_embedder.proj.weight": (4, 16, 2, 2)}


def flux_diffusion_model() -> dict[str, tuple[int, ...]]:
    """A Flux transformer saved alone, in Black Forest Labs' naming (flux1-dev.safetensors)."""
    return {"double_blocks.0.img_attn.qkv.weight": (12, 4), "single_blocks.0.linear1.weight": (12, 4),
            "img_in.weight": (4, 64)}


def kohya_lora(context: int, rank: int = 4, text_encoder_width: int | None = 768, sdxl: bool = False
               ) -> dict[str, tuple[int, ...]]:
    """A kohya-ss LoRA: lora_unet_* and lora_te_* (SDXL: lora_te1_/lora_te2_) keys, down/up pairs and alphas."""
    unet = ("lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k" if sdxl
            else "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k")
    shapes = {f"{unet}.lora_down.weight": (rank, context), f"{unet}.lora_up.weight": (8, rank), f"{unet}.alpha": ()}
    if text_encoder_width:
        te = "lora_te1_text_model_encoder_layers_0_mlp_fc1" if sdxl else "lora_te_text_model_encoder_layers_0_mlp_fc1"
        shapes |= {f"{te}.lora_down.weight": (rank, text_encoder_width), f"{te}.lora_up.weight": (8, rank)}
    if sdxl:
        shapes["lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight"] = (rank, 1280)
    return shapes


def loha_lycoris(context: int) -> dict[str, tuple[int, ...]]:
    """A LyCORIS LoHa: hada_w1_a/b and hada_w2_a/b per layer."""
    layer = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
    return {f"{layer}.hada_w1_a": (8, 4), f"{layer}.hada_w1_b": (4, context), f"{layer}.hada_w2_a": (8, 4),
            f"{layer}.hada_w2_b": (4, context), f"{layer}.alpha": ()}


def flux_lora() -> dict[str, tuple[int, ...]]:
    """A Flux LoRA as kohya's sd-scripts write it (lora_unet_double_blocks_*, lora_unet_single_blocks_*)."""
    return {"lora_unet_double_blocks_0_img_attn_proj.lora_down.weight": (4, 64),
            "lora_unet_double_blocks_0_img_attn_proj.lora_up.weight": (64, 4),
            "lora_unet_single_blocks_0_linear1.lora_down.weight": (4, 64),
            "lora_unet_single_blocks_0_linear1.lora_up.weight": (64, 4)}


def vae(latent_channels: int = 4) -> dict[str, tuple[int, ...]]:
    return {"encoder.conv_in.weight": (8, 3, 3, 3), "encoder.conv_out.weight": (2 * latent_channels, 8, 3, 3),
            "decoder.conv_in.weight": (8, latent_channels, 3, 3), "decoder.up.0.block.0.conv1.weight": (8, 8, 3, 3),
            "decoder.conv_out.weight": (3, 8, 3, 3)}


def sd1_embedding(vectors: int = 2) -> dict[str, tuple[int, ...]]:
    return {"emb_params": (vectors, 768)}


def sdxl_embedding(vectors: int = 2) -> dict[str, tuple[int, ...]]:
    return {"clip_l": (vectors, 768), "clip_g": (vectors, 1280)}


def sd1_controlnet() -> dict[str, tuple[int, ...]]:
    """ControlNet 1.1 as lllyasviel ships it: control_model.* with the hint block and zero convolutions."""
    return {"control_model.input_hint_block.0.weight": (16, 3, 3, 3),
            "control_model.zero_convs.0.0.weight": (8, 8, 1, 1),
            "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (8, 768)}


def esrgan_upscaler() -> dict[str, tuple[int, ...]]:
    return {"conv_first.weight": (8, 3, 3, 3), "body.0.rdb1.conv1.weight": (8, 8, 3, 3),
            "conv_up1.weight": (8, 8, 3, 3), "conv_last.weight": (3, 8, 3, 3)}


def clip_l_text_encoder() -> dict[str, tuple[int, ...]]:
    return {"text_model.encoder.layers.0.self_attn.q_proj.weight": (768, 4),
            "text_model.embeddings.token_embedding.weight": (4, 768)}


def kohya_metadata(**extra: str) -> dict[str, str]:
    """__metadata__ as kohya's train_network.py writes it (every value a string), with a tag frequency."""
    tags = {"10_alice": {"alice": 40, "1girl": 38, "smile": 12}, "5_extra": {"1girl": 5, "outdoors": 3}}
    return {
        "ss_output_name": "alice_v2", "ss_base_model_version": "sd_v1", "ss_network_module": "networks.lora",
        "ss_network_dim": "16", "ss_network_alpha": "8.0", "ss_resolution": "(512, 512)",
        "ss_num_train_images": "120", "ss_epoch": "10", "ss_steps": "1200", "ss_sd_model_name": "v1-5.safetensors",
        "ss_tag_frequency": json.dumps(tags), "modelspec.title": "Alice", "modelspec.trigger_phrase": "alice, smiling",
        **extra,
    }


def write_gguf(path: Path, architecture: str, *, name: str | None = None, size_label: str | None = None,
               file_type: int | None = None, context_length: int | None = None,
               quantized_tensors: int = 0, float_tensors: dict[str, tuple[int, ...]] | None = None,
               extra: dict[str, Any] | None = None) -> Path:
    """A real GGUF file by llama.cpp's own writer: keys, a token list, F32 tensors and Q4_K blocks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), architecture)
    if name is not None:
        writer.add_name(name)
    if size_label is not None:
        writer.add_size_label(size_label)
    if file_type is not None:
        writer.add_file_type(file_type)
    if context_length is not None:
        writer.add_context_length(context_length)
    writer.add_token_list([f"token{i}" for i in range(100)])
    for key, value in (extra or {}).items():
        writer.add_key_value(key, value[0], value[1])
    for tensor, shape in (float_tensors or {}).items():
        writer.add_tensor(tensor, np.zeros(shape, dtype=np.float32))
    _, block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_K]
    for i in range(quantized_tensors):
        writer.add_tensor(f"blk.{i}.attn_q.weight", np.zeros((2, block_bytes), dtype=np.uint8),
                          raw_dtype=gguf.GGMLQuantizationType.Q4_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
