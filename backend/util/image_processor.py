"""Decode, orient, shrink and encode one preview to WebP: the pure CPU work behind the image service."""

from __future__ import annotations

import functools
import io
import math
import os
import signal
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import ExifTags, Image

from backend.util.image_store import atomic_write_bytes

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without littlecms: CMYK falls back to the plain formula
    ImageCms = None  # type: ignore[assignment]

MAX_PIXELS = 2_000_000
# WebP stores each side in 14 bits.
MAX_SIDE = 16_383
QUALITY = 80
METHOD = 4
# A source is read whole into one worker's memory; previews are a few MB.
MAX_SOURCE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_SOURCE_PIXELS = 180_000_000

# Formats a preview comes in. Others (EPS runs Ghostscript, exotic parsers) are refused unopened.
_WANTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")
# Modes that resize well as they are, so JPEG draft mode (decode at 1/2, 1/4, 1/8) can act first.
_RESIZE_FIRST = {"RGB", "RGBA", "L", "LA", "CMYK", "YCbCr", "RGBX"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageError(Exception):
    """Base of the errors of one compression; each maps to one gRPC status."""


class BadImageError(ImageError):
    """Not an image, truncated, too big, or not a regular file: INVALID_ARGUMENT."""


class SourceMissingError(ImageError):
    """The source file vanished before it could be opened: NOT_FOUND."""


class SourceAccessError(ImageError):
    """The source file cannot be read by this process: PERMISSION_DENIED."""


@dataclass(frozen=True)
class WebpResult:
    width: int
    height: int
    size_bytes: int


def prepare_worker() -> None:
    """Initializer of a compression worker process."""
    # Our own check against the configured cap runs first; Pillow's fixed one would undercut it.
    Image.MAX_IMAGE_PIXELS = None
    # Ctrl-C reaches the whole process group; the parent stops the pool in order, workers must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Image.init()


def target_size(
    width: int, height: int, max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE
) -> tuple[int, int]:
    """The largest size with the same aspect within both caps, never larger than the source."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    scale = min(1.0, math.sqrt(max_pixels / (width * height)), max_side / width, max_side / height)
    if scale >= 1.0:
        return width, height
    new_width = max(1, min(max_side, math.floor(width * scale)))
    new_height = max(1, min(max_side, math.floor(height * scale)))
    # Float rounding, or a side clamped up to 1, can leave the product a hair over the cap.
    if new_width * new_height > max_pixels:
        if new_width >= new_height:
            new_width = max(1, max_pixels // new_height)
        else:
            new_height = max(1, max_pixels // new_width)
    return new_width, new_height


def compress_to_webp(source: Path | bytes, dest: Path, **limits: int) -> WebpResult:
    """Encode source as WebP within the caps (encode_webp's keywords) and write it atomically to dest (replacing it)."""
    data, width, height = encode_webp(source, **limits)
    atomic_write_bytes(dest, data)
    return WebpResult(width=width, height=height, size_bytes=len(data))


def encode_webp(
    source: Path | bytes,
    *,
    max_source_pixels: int = DEFAULT_MAX_SOURCE_PIXELS,
    max_source_bytes: int = MAX_SOURCE_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int = MAX_SIDE,
    quality: int = QUALITY,
    method: int = METHOD,
) -> tuple[bytes, int, int]:
    """The WebP bytes and their size; nothing touches the disk but the read of source."""
    with _open_source(source, max_source_bytes) as fp:
        image, icc_profile = _decode(fp, max_source_pixels, max_pixels, max_side)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=quality, method=method, icc_profile=icc_profile)
    return buffer.getvalue(), image.width, image.height


def _open_source(source: Path | bytes, max_source_bytes: int) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = len(source)
        if size > max_source_bytes:
            raise BadImageError(
                f"source is {size:,} bytes, over the limit of {max_source_bytes:,} bytes"
            )
        if size == 0:
            raise BadImageError("source is empty: not an image")
        return io.BytesIO(source)
    try:
        # O_NONBLOCK: should a FIFO have replaced the file since it was checked, open returns at once.
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SourceMissingError(f"no such file: {str(source)!r}") from None
    except PermissionError:
        raise SourceAccessError(f"cannot read {str(source)!r}: permission denied") from None
    except OSError as exc:
        raise BadImageError(f"cannot open {str(source)!r}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadImageError(f"{str(source)!r} is not a regular file")
        if st.st_size == 0:
            raise BadImageError(f"{str(source)!r} is empty: not an image")
        if st.st_size > max_source_bytes:
            raise BadImageError(
                f"{str(source)!r} is {st.st_size:,} bytes, over the limit of {max_source_bytes:,} bytes"
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _decode(
    fp: BinaryIO, max_source_pixels: int, max_pixels: int, max_side: int
) -> tuple[Image.Image, bytes | None]:
    """Open, check the header's size, then shrink, convert and orient the first frame."""
    try:
        # Pillow warns from 89 MP up; our own cap decides, with its own message.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fp, formats=_formats()) as src:
                width, height = src.size
                if width * height > max_source_pixels:
                    raise BadImageError(
                        f"image is {width}x{height} = {width * height:,} pixels, over the limit of "
                        f"{max_source_pixels:,} (decompression bomb guard)"
                    )
                return _render(src, target_size(width, height, max_pixels, max_side))
    except BadImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImageError(f"image is over the pixel limit (decompression bomb guard): {exc}") from None
    except Image.UnidentifiedImageError:
        names = ", ".join(_formats())
        raise BadImageError(f"not an image, or not one of the supported formats ({names})") from None
    except MemoryError:
        raise BadImageError("image is too large to decode in memory") from None
    except Exception as exc:  # Pillow's decoders raise OSError, ValueError, SyntaxError, struct.error…
        raise BadImageError(f"cannot decode image: {exc}") from None


def _render(src: Image.Image, box: tuple[int, int]) -> tuple[Image.Image, bytes | None]:
    alpha = src.mode in _ALPHA_MODES or "transparency" in src.info
    if src.mode in _RESIZE_FIRST and "transparency" not in src.info:
        # thumbnail before any conversion: for a JPEG it sets draft mode, so only a fraction is decoded.
        src.thumbnail(box, Image.Resampling.LANCZOS, reducing_gap=1.0)
        src.load()
        out = _output_mode(src, alpha)
    else:
        out = _output_mode(src, alpha)
        out.thumbnail(box, Image.Resampling.LANCZOS, reducing_gap=1.0)
    # Read after load: a PNG may carry its EXIF chunk after the pixel data.
    method = _TRANSPOSE.get(_orientation(src))
    if method is not None:
        out = out.transpose(method)
    elif out is src:
        # src is closed when the caller's `with` ends; the result must outlive it.
        out = src.copy()
    icc = src.info.get("icc_profile") if src.mode != "CMYK" else None
    # Only an RGB profile describes the RGB(A) WebP we write; a grey one would be invalid there.
    return out, icc if isinstance(icc, bytes) and icc[16:20] == b"RGB " else None


def _output_mode(im: Image.Image, alpha: bool) -> Image.Image:
    """RGB, RGBA or L (the WebP encoder widens L to RGB)."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        return _high_depth_to_l(im)
    if im.mode == "CMYK":
        return _cmyk_to_rgb(im)
    if alpha:
        return im if im.mode == "RGBA" else im.convert("RGBA")
    if im.mode in ("RGB", "L"):
        return im
    if im.mode == "1":
        return im.convert("L")
    return im.convert("RGB")


def _high_depth_to_l(im: Image.Image) -> Image.Image:
    """Scale 16- and 32-bit greys into 8 bits; a plain convert("L") would clip them to white."""
    if im.mode == "F":
        _, high = im.getextrema()
        full = 1.0 if high <= 1.0 else 255.0 if high <= 255 else 65535.0 if high <= 65535 else high
    else:
        sixteen_bit = im.mode.startswith("I;16")
        im = im.convert("I")
        _, high = im.getextrema()
        full = 65535 if sixteen_bit or 255 < high <= 65535 else 255 if high <= 255 else high
    scale = 255.0 / full
    return im.point(lambda level: level * scale).convert("L")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc and ImageCms is not None:
        try:
            # The embedded press profile gives far truer colours than the naive formula.
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(
                im, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return im.convert("RGB")


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a malformed EXIF block must not cost the whole preview
        return 1
    return value if isinstance(value, int) else 1


@functools.cache
def _formats() -> tuple[str, ...]:
    Image.init()
    return tuple(f for f in _WANTED_FORMATS if f in Image.OPEN)
