"""Model type and architecture from a safetensors file's tensor names and shapes alone.

The key names and shapes that tell them apart are the ones ComfyUI's model detection and InvokeAI's probe rely
on: the UNet's cross-attention width (768 SD 1.x, 1024 SD 2.x, 2048 SDXL, 1280 the SDXL refiner), SD3's
joint blocks, Flux's double and single blocks, a VAE's decoder, a textual inversion's emb_params / clip_g.
What cannot be told from the layout (a Pony or Illustrious model is an SDXL model) is not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "unknown"

Shapes = Mapping[str, tuple[int, ...]]

# Cross-attention context width -> architecture, for UNets, their LoRAs and ControlNets.
CONTEXT_WIDTHS = {768: "sd1", 1024: "sd2", 2048: "sdxl", 1280: "sdxl_refiner"}
# A text-encoder-only LoRA (or embedding): the CLIP width.
TOKEN_WIDTHS = {768: "sd1", 1024: "sd2"}

_LORA_SUFFIXES = (".lora_down.weight", ".lora_up.weight", ".lora_A.weight", ".lora_B.weight",
                  ".lora.down.weight", ".lora.up.weight", "_lora.down.weight", "_lora.up.weight")
# LyCORIS' own layers: LoHa, LoKr, (B)OFT, full-weight differences, and GLoRA.
_LYCORIS_SUFFIXES = (".hada_w1_a", ".lokr_w1", ".lokr_w1_a", ".oft_blocks", ".oft_diag", ".diff", ".diff_b",
                     ".a1.weight")
# Where a diffusion model's own blocks start: in a whole checkpoint, or alone (original and diffusers naming).
_DIFFUSION_PREFIXES = ("model.diffusion_model.", "joint_blocks.", "double_blocks.", "single_blocks.",
                       "single_transformer_blocks.", "transformer_blocks.")
_CONTROLNET_PREFIXES = ("control_model.", "input_hint_block.", "controlnet_cond_embedding.", "controlnet_blocks.",
                        "controlnet_x_embedder.", "zero_convs.")
# Cross-attention keys of a UNet (original and diffusers naming); shape[1] of to_k is the context width.
# Diffusers' first LoRA format named it attn2.processor.to_k_lora.down.weight.
_CROSS_ATTENTION = re.compile(r"attn2[._](processor\.)?to_k(\.weight|[._]lora[._]down\.weight|\.lora_A\.weight"
                              r"|\.hada_w1_b)$")
_TEXT_ENCODER_LORA = re.compile(r"^lora_te1?_text_model_encoder_layers_0_(mlp_fc1|self_attn_k_proj)"
                                r"\.(lora_down\.weight|hada_w1_b)$")


@dataclass(frozen=True)
class Kind:
    model_type: str = UNKNOWN
    architecture: str = UNKNOWN
    facts: dict[str, Any] = field(default_factory=dict)


def classify(shapes: Shapes) -> Kind:
    names = list(shapes)
    for detect in (_lora, _embedding, _controlnet, _checkpoint, _text_encoder, _vae, _upscaler):
        if (kind := detect(shapes, names)) is not None:
            return kind
    return Kind()


def _any_starts(names: Iterable[str], prefixes: tuple[str, ...] | str) -> bool:
    return any(name.startswith(prefixes) for name in names)


def _has(names: Iterable[str], part: str) -> bool:
    return any(part in name for name in names)


def _context_width(shapes: Shapes, names: Iterable[str]) -> str:
    for name in names:
        if _CROSS_ATTENTION.search(name) and len(shape := shapes[name]) >= 2:
            return CONTEXT_WIDTHS.get(shape[1], UNKNOWN)
    return UNKNOWN


def _transformer_architecture(names: list[str]) -> str:
    """SD3 and Flux by their blocks, in every naming (original, kohya's lora_unet_, diffusers' transformer.)."""
    if _has(names, "joint_blocks"):
        return "sd3"
    if _has(names, "double_blocks") or _has(names, "single_blocks") or _has(names, "single_transformer_blocks"):
        return "flux"
    return UNKNOWN


def _lora(shapes: Shapes, names: list[str]) -> Kind | None:
    lycoris = any(name.endswith(_LYCORIS_SUFFIXES) for name in names)
    if not lycoris and not any(name.endswith(_LORA_SUFFIXES) for name in names):
        return None
    facts: dict[str, Any] = {"network": "lycoris" if lycoris else "lora"}
    architecture = _transformer_architecture(names)
    if architecture == UNKNOWN:
        architecture = _context_width(shapes, names)
    if architecture == UNKNOWN:
        architecture = _lokr_context_width(shapes, names)
    if architecture == UNKNOWN:
        if _any_starts(names, "lora_te2_"):
            architecture = "sdxl"  # SDXL's second text encoder, OpenCLIP bigG
        else:
            architecture = next((TOKEN_WIDTHS.get(shapes[n][1], UNKNOWN) for n in names
                                 if _TEXT_ENCODER_LORA.match(n) and len(shapes[n]) >= 2), UNKNOWN)
    return Kind("lora", architecture, facts)


def _lokr_context_width(shapes: Shapes, names: list[str]) -> str:
    """A LoKr layer's input width is the product of its two factors' widths."""
    for name in names:
        if re.search(r"attn2[._]to_k\.lokr_w1$", name):
            other = name[: -len("lokr_w1")] + "lokr_w2"
            if other in shapes and len(shapes[name]) >= 2 and len(shapes[other]) >= 2:
                return CONTEXT_WIDTHS.get(shapes[name][1] * shapes[other][1], UNKNOWN)
    return UNKNOWN


def _embedding(shapes: Shapes, names: list[str]) -> Kind | None:
    if set(names) >= {"clip_l", "clip_g"}:
        return Kind("embedding", "sdxl", {"vectors": shapes["clip_g"][0] if shapes["clip_g"] else 0})
    if "emb_params" in shapes and len(names) <= 2:
        shape = shapes["emb_params"]
        architecture = TOKEN_WIDTHS.get(shape[-1], UNKNOWN) if shape else UNKNOWN
        return Kind("embedding", architecture, {"vectors": shape[0] if len(shape) == 2 else 1})
    return None


def _controlnet(shapes: Shapes, names: list[str]) -> Kind | None:
    if not _any_starts(names, _CONTROLNET_PREFIXES):
        return None
    architecture = _transformer_architecture(names)
    if architecture == UNKNOWN:
        architecture = _context_width(shapes, names)
    return Kind("controlnet", architecture)


def _checkpoint(shapes: Shapes, names: list[str]) -> Kind | None:
    """A whole model (model.diffusion_model.*), or its diffusion model alone in original or diffusers naming."""
    unet = (_any_starts(names, "model.diffusion_model.") or "input_blocks.0.0.weight" in shapes
            or "conv_in.weight" in shapes and _any_starts(names, "down_blocks."))
    transformer = _transformer_architecture([n for n in names if n.startswith(_DIFFUSION_PREFIXES)])
    if not (unet or transformer != UNKNOWN):
        return None
    architecture = transformer if transformer != UNKNOWN else _context_width(shapes, names)
    facts: dict[str, Any] = {"components": _components(names)}
    conv_in = shapes.get("model.diffusion_model.input_blocks.0.0.weight") or shapes.get("conv_in.weight")
    if conv_in and len(conv_in) == 4 and conv_in[1] == 9:
        facts["variant"] = "inpainting"  # the latent, its mask and the masked image: 4 + 1 + 4 input channels
    return Kind("checkpoint", architecture, facts)


def _components(names: list[str]) -> list[str]:
    parts = {"diffusion_model"}
    if _any_starts(names, "first_stage_model."):
        parts.add("vae")
    if _any_starts(names, ("cond_stage_model.", "conditioner.", "text_encoders.")):
        parts.add("text_encoder")
    return sorted(parts)


def _text_encoder(shapes: Shapes, names: list[str]) -> Kind | None:
    clip = shapes.get("text_model.encoder.layers.0.self_attn.q_proj.weight")
    if clip:
        encoder = {768: "clip_l", 1280: "clip_g"}.get(clip[0], "clip")
        return Kind("text_encoder", UNKNOWN, {"encoder": encoder, "width": clip[0]})
    if "encoder.block.0.layer.0.SelfAttention.q.weight" in shapes:
        return Kind("text_encoder", UNKNOWN, {"encoder": "t5"})
    return None


def _vae(shapes: Shapes, names: list[str]) -> Kind | None:
    conv_in = shapes.get("decoder.conv_in.weight")
    if conv_in is None or not _any_starts(names, "encoder.") and not _any_starts(names, "decoder.up"):
        return None
    # 4 latent channels: SD 1.x, 2.x and SDXL share the layout; 16: SD3 and Flux share it. Not told apart.
    channels = conv_in[1] if len(conv_in) >= 2 else None
    return Kind("vae", UNKNOWN, {"latent_channels": channels} if channels else {})


def _upscaler(shapes: Shapes, names: list[str]) -> Kind | None:
    """ESRGAN and its kin (RRDB, Real-ESRGAN, SwinIR, HAT, DAT), old and new naming."""
    old_esrgan = _has(names, ".sub.0.RDB1.conv1.0.weight")
    new_style = "conv_first.weight" in shapes and any(
        key in shapes for key in ("conv_last.weight", "conv_after_body.weight", "conv_up1.weight"))
    return Kind("upscaler") if old_esrgan or new_style else None
