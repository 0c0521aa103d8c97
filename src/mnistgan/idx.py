"""Read and write IDX files (the MNIST format), refusing anything malformed.

IDX: 2 zero bytes, a type byte (0x08 = unsigned byte), a byte with the number of
dimensions, one big-endian uint32 per dimension, then the raw data.
"""

import gzip
import struct
import zlib
from pathlib import Path

import torch

from .errors import UserError

UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> torch.Tensor:
    """The uint8 array stored in `path` (gzipped or plain), which must have `ndim` dims."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{path}: truncated or corrupt gzip file ({e})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != UBYTE or raw[3] != ndim:
        raise UserError(
            f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s) "
            f"(magic number {raw[:4].hex() or 'missing'}, expected 000008{ndim:02x})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path}: IDX header is truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(torch.tensor(dims).prod())
    if len(raw) != expected:
        raise UserError(f"{path}: holds {len(raw)} bytes, header of shape {dims} needs {expected}")
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(dims)


def write_idx(path: Path, array: torch.Tensor) -> None:
    """Write a uint8 array as IDX, gzipped when the name ends in .gz (fixtures, tests)."""
    data = bytes([0, 0, UBYTE, array.dim()]) + struct.pack(f">{array.dim()}I", *array.shape)
    data += array.to(torch.uint8).contiguous().numpy().tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
