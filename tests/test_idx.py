"""IDX parsing on hand-written bytes: the values, the shape and every refusal's message."""

import gzip
import struct

import pytest
import torch

from mnistgan.core.errors import UserError
from mnistgan.data import idx
from mnistgan.data.idx import MAX_ITEMS, read_idx, write_idx


def idx_bytes(*dims: int, body: bytes = b"", type_byte: int = 8, ndim: int | None = None) -> bytes:
    ndim = len(dims) if ndim is None else ndim
    return bytes([0, 0, type_byte, ndim]) + struct.pack(f">{len(dims)}I", *dims) + body


def write(tmp_path, data: bytes, name: str = "x.idx"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return path


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_labels_and_images_are_read_as_the_bytes_say(tmp_path, name):
    labels = read_idx(write(tmp_path, idx_bytes(3, body=bytes([7, 0, 255])), name))
    assert labels.dtype == torch.uint8 and labels.tolist() == [7, 0, 255]
    body = bytes(range(12))  # two 2x3 images, row-major
    images = read_idx(write(tmp_path, idx_bytes(2, 2, 3, body=body), name), (2, 3))
    assert images.tolist() == [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]]]


def test_a_body_longer_than_a_chunk_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "CHUNK", 2)
    path = write(tmp_path, idx_bytes(5, body=bytes([1, 2, 3, 4, 5])), "x.gz")
    assert read_idx(path).tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("data", "item_shape", "message"),
    [
        (b"", (), "not an IDX file of unsigned bytes with 1 dimension(s) (magic number missing, "
         "expected 00000801)"),
        (idx_bytes(3, type_byte=9), (), "(magic number 00000901, expected 00000801)"),
        (b"\x01" + idx_bytes(3)[1:], (), "(magic number 01000801, "),
        (b"\x00\x01" + idx_bytes(3)[2:], (), "(magic number 00010801, "),
        (idx_bytes(3, 2, 2, body=bytes(12)), (), "with 1 dimension(s) (magic number 00000803, "),
        (idx_bytes(3, 4, ndim=3), (2, 2), "IDX header is truncated"),
        (idx_bytes(1, 2, 3, body=bytes(6)), (2, 2), "items are 2x3, expected 2x2"),
        (idx_bytes(0), (), "the header says it holds no items; the data set is empty"),
        (idx_bytes(MAX_ITEMS + 1), (), "the header says 1,000,001 items, more than 1,000,000"),
        (idx_bytes(3, body=bytes(2)), (), "holds 10 bytes, header of shape (3,) needs 11"),
        (idx_bytes(3, body=bytes(4)), (), "holds more than 11 bytes, header of shape (3,) needs"),
    ],
    ids=["empty", "type", "byte 0", "byte 1", "ndim", "short header", "item shape", "no items",
         "too many", "short body", "long body"],
)  # fmt: skip
def test_malformed_files_are_refused_naming_the_problem(tmp_path, data, item_shape, message):
    path = write(tmp_path, data)
    with pytest.raises(UserError) as e:
        read_idx(path, item_shape)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)


def test_the_largest_data_set_is_accepted(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "MAX_ITEMS", 4)
    assert read_idx(write(tmp_path, idx_bytes(4, body=bytes(4)))).shape == (4,)
    with pytest.raises(UserError, match="the header says 5 items, more than 4"):
        read_idx(write(tmp_path, idx_bytes(5, body=bytes(5))))


def test_a_corrupt_gzip_file_is_refused_as_such(tmp_path):
    blob = gzip.compress(idx_bytes(3, body=bytes(3000)), mtime=0)
    path = tmp_path / "x.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(UserError, match=rf"^{path}: truncated or corrupt gzip file \("):
        read_idx(path)
    with pytest.raises(UserError, match=rf"^{tmp_path}: unreadable file \("):
        read_idx(tmp_path)  # a folder


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_write_idx_writes_the_header_and_the_bytes(tmp_path, name):
    write_idx(tmp_path / name, torch.tensor([[1, 2], [3, 4], [5, 6]]))
    data = (tmp_path / name).read_bytes()
    if name.endswith(".gz"):
        assert data[:2] == b"\x1f\x8b" and data == gzip.compress(gzip.decompress(data), mtime=0)
        data = gzip.decompress(data)
    assert data == bytes([0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6])


def test_short_image_files_name_the_sizes_of_header_and_body(tmp_path):
    path = write(tmp_path, idx_bytes(2, 2, 2, body=bytes(5)))  # 16-byte header, 8-byte body
    with pytest.raises(UserError, match=r"holds 21 bytes, header of shape \(2, 2, 2\) needs 24$"):
        read_idx(path, (2, 2))
    with pytest.raises(UserError, match="IDX header is truncated"):
        read_idx(write(tmp_path, idx_bytes(3)[:4]))  # the magic number, then nothing


class Reads:
    """A file that records the size of every read: the body is read in chunks of at most
    CHUNK up to the size the header gives, then one byte past it, never the rest."""

    def __init__(self, data: bytes):
        self.data, self.at, self.sizes = data, 0, []

    def read(self, n=-1):
        self.sizes.append(n)
        end = len(self.data) if n is None or n < 0 else self.at + n
        out, self.at = self.data[self.at : end], min(end, len(self.data))
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_body_is_read_in_chunks_up_to_its_size_and_one_byte_past(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "CHUNK", 2)
    data = idx_bytes(3, body=bytes(4))  # one byte more than the header says
    path = write(tmp_path, gzip.compress(data) + b"")  # a gzip file, read through `opened`
    opened = Reads(data)
    monkeypatch.setattr(idx.gzip, "open", lambda p, mode="rb": opened)
    with pytest.raises(UserError, match=r"holds more than 11 bytes, header of shape \(3,\)"):
        read_idx(path)
    assert opened.sizes == [8, 2, 1, 1]  # header; body 2 + 1 (not a third chunk); 1 past it


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_check_header_reads_the_header_alone(tmp_path, name):
    path = write(tmp_path, idx_bytes(2, 2, 3, body=bytes(5)), name)  # a body too short: unread
    assert idx.check_header(path, (2, 3)) == (2, 2, 3)
    with pytest.raises(UserError, match=r"items are 2x3, expected 3x3$"):
        idx.check_header(path, (3, 3))


def test_check_header_of_a_gzip_cut_inside_its_header_names_the_file(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(2, 2, 3), mtime=0)[:12])
    with pytest.raises(UserError) as e:
        idx.check_header(path, (2, 3))
    assert str(e.value).startswith(f"{path}: truncated or corrupt gzip file (")
    assert "\n" not in str(e.value)
