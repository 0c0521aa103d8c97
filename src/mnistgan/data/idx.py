"""Read and write IDX files (the MNIST format), refusing anything malformed.

IDX: 2 zero bytes, a type byte (0x08 = unsigned byte), a byte with the number of
dimensions, one big-endian uint32 per dimension, then the raw data.

The header is checked before the body is read, and the body is read in chunks up to the
size the header gives: a gzip file that inflates to gigabytes (or a header claiming them)
costs at most the memory of the largest data set we accept, never the file's inflated size.
"""

import contextlib
import gzip
import math
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import torch

from mnistgan.core.errors import UserError

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
MAX_ITEMS = 1_000_000  # MNIST, Fashion-MNIST and KMNIST hold 70,000 each
CHUNK = 1 << 20


def read_idx(path: Path, item_shape: tuple[int, ...] = ()) -> torch.Tensor:
    """The uint8 array stored in `path` (gzipped or plain): N items of `item_shape` each,
    0 < N <= MAX_ITEMS; labels have item_shape (), MNIST images (28, 28)."""
    head, gz = 4 + 4 * (1 + len(item_shape)), False
    try:
        with path.open("rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gz else path.open("rb") as f:
            dims, size = read_header(f, path, item_shape)
            body = bytearray()
            while len(body) < size and (chunk := f.read(min(CHUNK, size - len(body)))):
                body += chunk
            if len(body) < size or f.read(1):
                held = f"more than {head + size}" if len(body) == size else head + len(body)
                raise UserError(
                    f"{path}: holds {held} bytes, header of shape {dims} needs {head + size}"
                )
    except (OSError, EOFError, zlib.error) as e:
        kind = "truncated or corrupt gzip file" if gz else "unreadable file"
        raise UserError(f"{path}: {kind} ({e})") from None
    return torch.frombuffer(body, dtype=torch.uint8).reshape(dims)


@contextlib.contextmanager
def opened(path: Path) -> Iterator[BinaryIO]:
    """`path` open for reading, inflated as it reads when its first bytes say gzip."""
    with path.open("rb") as f:
        gz = f.read(2) == GZIP_MAGIC
        f.seek(0)
        if not gz:
            yield f
            return
        with gzip.GzipFile(fileobj=f, mode="rb") as inflated:
            yield inflated


def check_header(path: Path, item_shape: tuple[int, ...] = ()) -> tuple[int, ...]:
    """The dims of the IDX header `path` starts with (gzipped or plain), or a UserError naming
    it: a wrong or unreadable file costs its first bytes, before anyone copies it whole."""
    gz = False
    try:
        with path.open("rb") as f:
            gz = f.read(2) == GZIP_MAGIC
        with opened(path) as f:
            return read_header(f, path, item_shape)[0]
    except (OSError, EOFError, zlib.error) as e:
        kind = "truncated or corrupt gzip file" if gz else "unreadable file"
        raise UserError(f"{path}: {kind} ({getattr(e, 'strerror', None) or e})") from None


def read_header(f, path: Path, item_shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """The dims in the header at the start of `f`, and the body's size in bytes they imply."""
    ndim = 1 + len(item_shape)
    raw = f.read(4 + 4 * ndim)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != UBYTE or raw[3] != ndim:
        raise UserError(
            f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s) "
            f"(magic number {raw[:4].hex() or 'missing'}, expected 000008{ndim:02x})"
        )
    if len(raw) < 4 + 4 * ndim:
        raise UserError(f"{path}: IDX header is truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:])
    if dims[1:] != item_shape:
        shape = "x".join(map(str, dims[1:]))
        raise UserError(f"{path}: items are {shape}, expected {'x'.join(map(str, item_shape))}")
    if dims[0] == 0:
        raise UserError(f"{path}: the header says it holds no items; the data set is empty")
    if dims[0] > MAX_ITEMS:
        raise UserError(f"{path}: the header says {dims[0]:,} items, more than {MAX_ITEMS:,}")
    return dims, math.prod(dims)  # Python ints: exact, no int64 overflow


def write_idx(path: Path, array: torch.Tensor) -> None:
    """Write a uint8 array as IDX, gzipped when the name ends in .gz (fixtures, tests)."""
    data = bytes([0, 0, UBYTE, array.dim()]) + struct.pack(f">{array.dim()}I", *array.shape)
    data += array.to(torch.uint8).contiguous().numpy().tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
