"""Safetensors encoding and decoding in plain Python (no ``safetensors`` package, no pickle).

The format: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name
to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (plus an optional ``__metadata__``
object), then the data buffer. This module writes ``F32`` tensors only (the node takes nothing
else) and reads ``F32`` tensors only; values are carried as little-endian bytes.
"""
import json
import struct

from .errors import LayoutError

#: The largest header the reference implementation reads.
MAX_HEADER = 100_000_000


def _count(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def encode(tensors, metadata=None):
    """Bytes of a safetensors file holding ``tensors``: a sequence of ``(name, shape, data)``
    where ``data`` is the tensor's little-endian float32 bytes, written in the given order
    (header and data). The header is compact JSON padded with spaces to a multiple of 8 bytes.
    Raises ``ValueError`` for a duplicate or reserved name, a bad shape or a data length that
    does not match the shape."""
    header = {}
    chunks = []
    offset = 0
    for name, shape, data in tensors:
        if not isinstance(name, str) or name == "__metadata__" or name in header:
            raise ValueError(f"tensor name {name!r} cannot be written (reserved or repeated)")
        shape = [int(s) for s in shape]
        if any(s < 0 for s in shape):
            raise ValueError(f"tensor {name!r} has a negative dimension: {shape}")
        size = 4 * _count(shape)
        if len(data) != size:
            raise ValueError(f"tensor {name!r}: {len(data)} bytes for shape {shape} (need {size})")
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        chunks.append(data)
        offset += size
    if metadata:
        header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}, **header}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return b"".join([struct.pack("<Q", len(text)), text, *chunks])


def decode(body):
    """The tensors of a safetensors body, in data order: a list of ``(name, shape, data)`` with
    ``data`` the little-endian float32 bytes. Raises :class:`LayoutError` for a truncated body, a
    header that is not a JSON object, a dtype other than ``F32``, offsets that do not match the
    shape, or tensors that overlap or leave data bytes uncovered."""
    if len(body) < 8:
        raise LayoutError(f"safetensors body of {len(body)} bytes has no header length")
    (n,) = struct.unpack_from("<Q", body, 0)
    if n > MAX_HEADER or 8 + n > len(body):
        raise LayoutError(f"safetensors header length {n} does not fit a body of {len(body)} bytes")
    try:
        header = json.loads(body[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise LayoutError(f"safetensors header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise LayoutError("safetensors header is not a JSON object")
    data = memoryview(body)[8 + n :]
    entries = []
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(spec, dict) or spec.get("dtype") != "F32":
            dtype = spec.get("dtype") if isinstance(spec, dict) else spec
            raise LayoutError(f"tensor {name!r} has dtype {dtype!r}; only F32 is read")
        shape, offsets = spec.get("shape"), spec.get("data_offsets")
        if (
            not isinstance(shape, list)
            or not all(isinstance(s, int) and s >= 0 for s in shape)
            or not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
        ):
            raise LayoutError(f"tensor {name!r} has a malformed shape or data_offsets")
        begin, end = offsets
        if not 0 <= begin <= end <= len(data) or end - begin != 4 * _count(shape):
            raise LayoutError(f"tensor {name!r}: offsets {offsets} do not match shape {shape}")
        entries.append((begin, end, name, shape))
    entries.sort()
    covered = 0
    for begin, end, name, _ in entries:
        if begin != covered:
            raise LayoutError(f"tensor {name!r} starts at {begin}, expected {covered}")
        covered = end
    if covered != len(data):
        raise LayoutError(f"tensors cover {covered} of {len(data)} data bytes")
    return [(name, shape, bytes(data[b:e])) for b, e, name, shape in entries]
