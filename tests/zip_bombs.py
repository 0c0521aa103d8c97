"""Deflate bombs: .pt files (zip archives) whose one tensor entry inflates to gigabytes from a
few megabytes, built in milliseconds: a deflate stream of zeros, flushed every MiB, repeats
itself, so the compressed bytes are one block copied, not compressed anew."""

import io
import struct
import zipfile
import zlib
from pathlib import Path

import torch

MIB = 1 << 20


def zeros_deflated(mib: int) -> bytes:
    """A raw deflate stream of `mib` MiB of zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + block * (mib - 1) + c.flush()


def bomb(path: Path, obj: dict, key: str, mib: int, declared_mib: int | None = None) -> None:
    """torch.save(obj) at `path`, its uint8 tensor obj[key] (of 1 MiB) now `mib` MiB of zeros,
    deflated; the file (its pickle and zip directory) declares `declared_mib` MiB (default:
    the truth). The CRC is left as it was: torch does not check it."""
    assert obj[key].dtype == torch.uint8 and obj[key].numel() == MIB
    buf = io.BytesIO()
    torch.save(obj, buf)
    raw = buf.getvalue()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        entries = {i.filename: z.read(i) for i in z.infolist()}
    pkl = next(n for n in entries if n.endswith("/data.pkl"))
    # the pickle gives the storage's size and the tensor's shape as 4-byte ints (opcode J);
    # past 2 GiB they would take other opcodes, and the zip directory is refused first anyway
    declared = (declared_mib or mib) * MIB
    if declared < 2**31:
        old, new = (b"J" + struct.pack("<i", size) for size in (MIB, declared))
        entries[pkl] = entries[pkl].replace(old, new)
    storage = next(n for n in entries if n.endswith("/data/0"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries.items():
            z.writestr(name, zeros_deflated(mib) if name == storage else data)
    data = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo(storage)
    local = info.header_offset  # method, then CRC, compressed and uncompressed sizes
    struct.pack_into("<H", data, local + 8, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", data, local + 22, declared)
    central = struct.unpack_from("<I", data, data.rindex(b"PK\x05\x06") + 16)[0]
    while data[central + 46 : central + 46 + len(storage)] != storage.encode():
        central += 46 + sum(struct.unpack_from("<3H", data, central + 28))  # the next record
    struct.pack_into("<H", data, central + 10, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))
