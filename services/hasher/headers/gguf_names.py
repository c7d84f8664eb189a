"""GGUF's numbered enumerations by name: general.file_type (llama.cpp's LLAMA_FTYPE_*) and tensor types (GGML)."""

from __future__ import annotations

# llama.cpp's llama_ftype, the value of general.file_type; gaps are types llama.cpp removed.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
    36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}

# ggml_type, each tensor's type in its info.
TENSOR_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
    11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
    19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32",
    27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}

# general.architecture of the diffusion models ComfyUI-GGUF converts (its own names), and of text encoders.
DIFFUSION_ARCHITECTURES = frozenset({"flux", "sd1", "sdxl", "sd3", "aura", "hidream", "cosmos", "ltxv", "hyvid",
                                     "wan", "lumina2", "qwen_image", "chroma"})
TEXT_ENCODER_ARCHITECTURES = frozenset({"t5", "t5encoder", "clip"})


def quantization(file_type: object, tensor_types: dict[int, int]) -> str | None:
    """general.file_type by name; without it, the type holding most of the weights (files converted for
    ComfyUI often leave general.file_type out)."""
    if isinstance(file_type, int) and not isinstance(file_type, bool):
        return FILE_TYPES.get(file_type, f"file type {file_type}")
    if not tensor_types:
        return None
    most = max(tensor_types, key=lambda kind: tensor_types[kind])
    return TENSOR_TYPES.get(most, f"tensor type {most}")
