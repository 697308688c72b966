"""Minimal safetensors writer and reader (the `safetensors` package is not available here).

File layout:
    8 bytes      little-endian u64 N = header length in bytes
    N bytes      UTF-8 JSON header, padded with spaces to a multiple of 8 bytes:
                 {name: {"dtype": "F32"|"F64"|"I32"|"I64", "shape": [...], "data_offsets": [begin, end]},
                  "__metadata__": {str: str}}
    data section raw little-endian tensor bytes; offsets are relative to the start of this section

Tensors are written in the order given, each one contiguous and row-major. Only the four dtypes the
goldens need are supported; anything else is rejected rather than silently converted.
"""

import json
import os
import struct

import numpy as np

# safetensors dtype tag <-> little-endian numpy dtype
DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
}
_TAG_OF = {v: k for k, v in DTYPES.items()}


def _as_numpy(value):
    """Accepts numpy arrays or torch tensors (detached, on CPU) and returns a numpy array."""
    if hasattr(value, "detach"):  # torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def save_file(tensors, path, metadata=None):
    """Writes `tensors` (dict name -> array, in insertion order) to `path` atomically.

    The file is written to a temporary sibling and renamed, so a failure leaves nothing
    half-written. Every array must already have one of the supported dtypes: the caller decides
    the precision (e.g. rounding to float32) explicitly.
    """
    header = {}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if name == "__metadata__":
            raise ValueError("tensor name '__metadata__' is reserved")
        arr = _as_numpy(value)
        dt = arr.dtype.newbyteorder("<")
        if dt not in _TAG_OF:
            raise ValueError(f"tensor '{name}': unsupported dtype {arr.dtype}")
        raw = np.ascontiguousarray(arr, dtype=dt).tobytes(order="C")
        header[name] = {
            "dtype": _TAG_OF[dt],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError(f"metadata entry {k!r}: keys and values must be strings")
        header["__metadata__"] = dict(metadata)

    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)

    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def load_file(path):
    """Reads a safetensors file; returns (dict name -> numpy array, metadata dict).

    Validates what a careless writer could get wrong: header length, known dtypes, offsets that
    match shape x itemsize, tensors that tile the data section without gaps or overlaps.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} exceeds file size {len(data)}")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}

    tensors = {}
    spans = []
    for name, info in header.items():
        tag = info["dtype"]
        if tag not in DTYPES:
            raise ValueError(f"{path}: tensor '{name}': unsupported dtype {tag}")
        dt = DTYPES[tag]
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
        expect = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if end - begin != expect or end > len(body) or begin < 0:
            raise ValueError(f"{path}: tensor '{name}': offsets {begin}..{end} do not hold {shape} {tag}")
        tensors[name] = np.frombuffer(body[begin:end], dtype=dt).reshape(shape).copy()
        spans.append((begin, end))
    spans.sort()
    pos = 0
    for begin, end in spans:
        if begin != pos:
            raise ValueError(f"{path}: data section has a gap or overlap at byte {pos}")
        pos = end
    if pos != len(body):
        raise ValueError(f"{path}: {len(body) - pos} trailing bytes after the last tensor")
    return tensors, metadata
