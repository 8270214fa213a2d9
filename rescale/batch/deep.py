"""16-bit colour files (PNG, TIFF), which Pillow has no image mode for: it reads a 16-bit RGB or
RGBA file as 8-bit ``"RGB"``/``"RGBA"``, keeping the high byte of each sample, and cannot write one.

Here such images are uint16 ``HxWxC`` numpy arrays, labelled with the modes
:data:`rescale.batch.files.DEEP_MODES` (``"RGB;16"``, ``"RGBA;16"``, spelt like Pillow's ``"I;16"``).

Reading (:func:`rescale.batch.files.decode`, :func:`join_bytes`): Pillow's own decoders run twice over the file,
once unpacking the high byte of each sample (what Pillow does) and once the low byte (the same
unpacker for the other byte order), and the two halves are joined. So every variant Pillow decodes
is read, at C speed and exactly: interlaced PNG; uncompressed, LZW, deflate or PackBits TIFF, in
strips or tiles, with or without a predictor.

Writing (:func:`encode_deep`): Pillow writes the file for an 8-bit placeholder of the same size
with all the metadata (ICC profile, EXIF, DPI, text chunks, in-place mark), and only the pixel data
is ours: for PNG the IHDR's bit depth and the IDAT chunks (each row filtered with the filter that
minimises the sum of absolute differences, as libpng does, then zlib); for TIFF the BitsPerSample
values and the one strip (Adobe deflate with the horizontal predictor).

Why not a library: tifffile reads no LZW TIFF without imagecodecs (a large binary package), pypng
unfilters rows in pure Python (seconds per megapixel), OpenCV is a 50 MB dependency the plain
install does not need, and none of them writes the metadata the way the other outputs are written.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

__all__ = ["join_bytes", "encode_deep"]


def join_bytes(high: Image.Image, low: Image.Image) -> np.ndarray:
    """The uint16 ``HxWxC`` array of the high and low bytes decoded into two 8-bit images."""
    out = np.asarray(high).astype(np.uint16)
    out <<= 8
    out |= np.asarray(low)
    return out


def encode_deep(arr: np.ndarray, pil_format: str, **params) -> bytes:
    """The ``"PNG"`` or ``"TIFF"`` file of a uint16 ``HxWx3`` or ``HxWx4`` array, with Pillow's
    save ``params`` (``icc_profile``, ``exif``, ``dpi``, ``pnginfo``, ...) applied as Pillow applies them.

    >>> data = encode_deep(np.full((2, 3, 3), 1000, np.uint16), "PNG")
    >>> data[24], data[25]  # IHDR: bit depth 16, colour type 2 (RGB)
    (16, 2)
    """
    if arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected a uint16 HxWx3 or HxWx4 array, got {arr.dtype} {arr.shape}")
    h, w, c = arr.shape
    placeholder = Image.new("RGBA" if c == 4 else "RGB", (w, h))
    buf = io.BytesIO()
    if pil_format == "PNG":
        placeholder.save(buf, "PNG", compress_level=0, **params)
        return _splice_png(buf.getvalue(), _png_idat(arr))
    if pil_format == "TIFF":
        params = {k: v for k, v in params.items() if k != "compression"}
        exif = Image.Exif()
        if params.get("exif"):
            exif.load(params["exif"])
        exif[317] = 1  # Predictor: a placeholder, so that the IFD has the entry _splice_tiff sets
        params["exif"] = exif.tobytes()
        placeholder.save(buf, "TIFF", compression="raw", **params)
        return _splice_tiff(buf.getvalue(), arr)
    raise ValueError(f"16-bit colour is written as PNG or TIFF, not {pil_format}")


# --- PNG ----------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _splice_png(placeholder: bytes, idat: bytes) -> bytes:
    """Pillow's 8-bit PNG with its IHDR made 16-bit and its IDAT chunks replaced by ``idat``."""
    out, pos, spliced = [placeholder[:8]], 8, False
    while pos < len(placeholder):
        (length,), kind = struct.unpack(">I", placeholder[pos : pos + 4]), placeholder[pos + 4 : pos + 8]
        data = placeholder[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            if data[8] != 8 or data[12] != 0:
                raise ValueError("unexpected placeholder PNG (not 8-bit, or interlaced)")
            out.append(_chunk(kind, data[:8] + b"\x10" + data[9:]))
        elif kind == b"IDAT":
            if not spliced:
                # Chunks of at most 1 MiB, as encoders commonly write them.
                out += [_chunk(b"IDAT", idat[i : i + (1 << 20)]) for i in range(0, max(len(idat), 1), 1 << 20)]
                spliced = True
        else:
            out.append(placeholder[pos - 12 - length : pos])
    return b"".join(out)


def _png_idat(arr: np.ndarray) -> bytes:
    """zlib stream of the filtered big-endian rows of ``arr``; each row with the filter (None, Sub,
    Up, Average or Paeth) whose output has the smallest sum of absolute values as signed bytes
    (libpng's heuristic), computed in blocks of rows to bound the memory."""
    h, w, c = arr.shape
    raw = arr.astype(">u2").view(np.uint8).reshape(h, w * c * 2)
    bpp = 2 * c
    z = zlib.compressobj(6)
    parts = []
    block = max(1, (4 << 20) // raw.shape[1])
    for start in range(0, h, block):
        x = raw[start : start + block].astype(np.int16)
        b = np.empty_like(x)  # the row above (zeros above the first row)
        b[1:] = x[:-1]
        b[0] = raw[start - 1] if start else 0
        a = np.zeros_like(x)  # the same sample of the pixel to the left
        a[:, bpp:] = x[:, :-bpp]
        cc = np.zeros_like(x)
        cc[:, bpp:] = b[:, :-bpp]
        p = a + b - cc
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - cc)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, cc))
        candidates = np.stack([x, x - a, x - b, x - ((a + b) >> 1), x - paeth]).astype(np.uint8)
        cost = np.abs(candidates.view(np.int8).astype(np.int32)).sum(axis=2)
        best = cost.argmin(axis=0)
        rows = np.empty((x.shape[0], x.shape[1] + 1), np.uint8)
        rows[:, 0] = best
        rows[:, 1:] = candidates[best, np.arange(x.shape[0])]
        parts.append(z.compress(rows.tobytes()))
    parts.append(z.flush())
    return b"".join(parts)


# --- TIFF ---------------------------------------------------------------------------------------

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8}


def _splice_tiff(placeholder: bytes, arr: np.ndarray) -> bytes:
    """Pillow's uncompressed 8-bit TIFF (one strip, after its first IFD) with 16-bit samples:
    BitsPerSample 16, the strip replaced by the Adobe-deflate stream of the horizontally
    differenced samples (predictor 2), and Compression and Predictor set to say so."""
    h, w, c = arr.shape
    data = bytearray(placeholder)
    if data[:4] != b"II*\x00":
        raise ValueError("unexpected placeholder TIFF (not little-endian)")
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    entries = {}
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag, kind, n = struct.unpack_from("<HHI", data, at)
        entries[tag] = (at, kind, n)
    strip_at, bits_at, counts_at, compression_at, predictor_at = (entries[t][0] for t in (273, 258, 279, 259, 317))
    (offset,) = struct.unpack_from("<I", data, strip_at + 8)
    _, kind, n = entries[279]
    length = struct.unpack_from("<H" if kind == 3 else "<I", data, counts_at + 8)[0]
    if n != 1 or entries[273][2] != 1 or offset + length != len(data) or length != w * h * c:
        raise ValueError("unexpected placeholder TIFF (not one strip at the end)")
    _, kind, n = entries[258]
    if kind != 3 or n != c:
        raise ValueError("unexpected placeholder TIFF (BitsPerSample)")
    bits = (bits_at + 8) if n * _TYPE_SIZES[kind] <= 4 else struct.unpack_from("<I", data, bits_at + 8)[0]
    struct.pack_into(f"<{c}H", data, bits, *([16] * c))
    diff = arr.astype("<u2")
    diff[:, 1:] -= arr[:, :-1]  # wraps modulo 2**16, as the predictor does
    strip = zlib.compress(diff.tobytes(), 6)
    struct.pack_into("<HHII", data, counts_at, 279, 4, 1, len(strip))
    struct.pack_into("<HHIHH", data, compression_at, 259, 3, 1, 8, 0)  # Adobe deflate
    struct.pack_into("<HHIHH", data, predictor_at, 317, 3, 1, 2, 0)  # horizontal differencing
    return bytes(data[:offset]) + strip
