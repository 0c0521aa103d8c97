"""Bad data is refused: non-zero exit, the file and the problem named, nothing in data/prepared."""

import errno
import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from conftest import OFFLINE, REPO, run, write_small_params
from zip_bombs import MIB, bomb

from mnistgan.core.digits import digit_counts
from mnistgan.core.errors import UserError
from mnistgan.core.image_files import load_images
from mnistgan.data import raw, splits
from mnistgan.data.idx import MAX_ITEMS, read_idx, write_idx


def small_idx_folder(folder: Path, n: int = 40) -> Path:
    """A valid folder of 4 IDX files with `n` random training and test images."""
    g = torch.Generator().manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "t10k"):
        write_idx(
            folder / f"{split}-images-idx3-ubyte.gz",
            torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
        )
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", torch.arange(n) % 10)
    return folder


def place(folder: Path, repo: Path) -> None:
    """The four files of `folder` where the download stage puts them in `repo` (OUTPUTS)."""
    found = raw.find_raw(folder)
    for role, name in raw.FILES.items():
        (repo / raw.OUTPUTS[role]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found[name], repo / raw.OUTPUTS[role])


def run_stage(
    tmp_path: Path, stage: str = "prepare", source: Path | None = None, variable: str = ""
):
    """A stage run in `tmp_path`, offline, where prepare reads data/raw/ (OUTPUTS), with
    data.source `source` and $MNISTGAN_DATA_SOURCE `variable` (empty: unset)."""
    data = {"source": source and str(source), "val_size": 8}
    write_small_params(tmp_path, {"data": data, "evaluate": {"n_samples": 8}})
    cmd = ["python", str(REPO / f"stages/{stage}.py")]
    env = OFFLINE | {"MNISTGAN_DATA_SOURCE": variable}
    return run(cmd, tmp_path, check=False, timeout=300, env=env)


def corrupt(folder: Path, name: str, payload: bytes, gz: bool = True) -> None:
    (folder / name).unlink(missing_ok=True)
    (folder / name).write_bytes(gzip.compress(payload, mtime=0) if gz else payload)


def header(ndim: int, *dims: int, type_byte: int = 8) -> bytes:
    return bytes([0, 0, type_byte, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)


BAD = {
    "truncated gzip": ("train-images-idx3-ubyte.gz", None, "truncated or corrupt gzip"),
    "wrong magic": ("t10k-images-idx3-ubyte.gz", b"\x00\x00\x08\x01" + bytes(8), "magic number"),
    "wrong type byte": (
        "t10k-labels-idx1-ubyte.gz",
        header(1, 40, type_byte=0x0D) + bytes(160),
        "magic number",
    ),
    "wrong image size": (
        "train-images-idx3-ubyte.gz",
        header(3, 40, 32, 32) + bytes(40 * 1024),
        "items are 32x32, expected 28x28",
    ),
    "short data": (
        "train-images-idx3-ubyte.gz",
        header(3, 40, 28, 28) + bytes(100),
        "holds 116 bytes",
    ),
    "count mismatch": (
        "train-labels-idx1-ubyte.gz",
        header(1, 39) + bytes(39),
        "39 labels for 40 images",
    ),
    "label out of range": (
        "t10k-labels-idx1-ubyte.gz",
        header(1, 40) + bytes([12] * 40),
        "label 12 outside 0-9",
    ),
}


@pytest.mark.slow  # each case runs a stage in a fresh Python process
@pytest.mark.parametrize("stage", ["download", "prepare"])
@pytest.mark.parametrize("case", BAD)
def test_download_and_prepare_refuse_bad_file(tmp_path, case, stage):
    """download refuses a bad file of data.source before writing any output (so none is
    cached or pushed); prepare refuses it too, should one reach data/raw/ another way."""
    name, payload, message = BAD[case]
    folder = small_idx_folder(tmp_path / "source")
    if payload is None:  # cut a valid gzip file in half
        blob = (folder / name).read_bytes()
        (folder / name).write_bytes(blob[: len(blob) // 2])
    else:
        corrupt(folder, name, payload)
    if stage == "prepare":
        place(folder, tmp_path)
        role = {v: k for k, v in raw.FILES.items()}[name]
        name = str(raw.OUTPUTS[role])
    result = run_stage(tmp_path, stage, folder)
    assert result.returncode == 1
    error = result.stderr.splitlines()[-1]  # prepare warns of unofficial files first
    assert error.startswith("error: ") and name in error and message in error, result.stderr
    assert "Traceback" not in result.stderr
    if stage == "download":
        assert str(folder / name) in result.stderr  # the user's file, not a temporary copy
        assert not list((tmp_path / "data/raw").glob("*"))  # nothing written, nor the folder
    assert not (tmp_path / "data/prepared").exists()
    assert not (tmp_path / "metrics/data.json").exists()


@pytest.mark.slow  # runs a stage in a fresh Python process
def test_prepare_accepts_plain_files_and_warns_about_md5(tmp_path):
    folder = small_idx_folder(tmp_path / "source")
    plain = folder / "train-images-idx3-ubyte"
    plain.write_bytes(gzip.decompress((folder / "train-images-idx3-ubyte.gz").read_bytes()))
    (folder / "train-images-idx3-ubyte.gz").unlink()
    place(folder, tmp_path)
    result = run_stage(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4 of 4 files are not the official mnist release" in result.stderr
    train = torch.load(tmp_path / "data/prepared/train.pt", weights_only=True)
    assert train["images"].shape == (32, 1, 28, 28) and train["labels"].dtype == torch.int64


@pytest.mark.slow  # runs a stage in a fresh Python process
def test_prepare_keeps_file_provenance_out_of_the_metrics(tmp_path):
    place(small_idx_folder(tmp_path / "source"), tmp_path)
    assert run_stage(tmp_path).returncode == 0
    metrics = json.loads((tmp_path / "metrics/data.json").read_text())
    assert metrics == {"counts": {"train": 32, "val": 8, "test": 40}}  # numbers to compare
    provenance = json.loads((tmp_path / "data/prepared/provenance.json").read_text())
    assert provenance["dataset"] == "mnist" and sum(provenance["class_counts"]["val"]) == 8
    assert set(provenance["files"]) == set(raw.FILES.values())
    assert not any(f["official"] for f in provenance["files"].values())


@pytest.mark.slow  # runs a stage in a fresh Python process
def test_prepare_names_every_missing_file(tmp_path):
    (tmp_path / "data/raw").mkdir(parents=True)
    result = run_stage(tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for path in raw.OUTPUTS.values():
        assert str(path) in result.stderr
    assert "dvc repro" in result.stderr
    assert not (tmp_path / "data/prepared").exists()


@pytest.mark.slow  # runs a stage in a fresh Python process
def test_download_stage_copies_the_source_folder_or_names_what_is_missing(tmp_path):
    source = small_idx_folder(tmp_path / "elsewhere")
    plain = source / "t10k-labels-idx1-ubyte"  # copied as it is: prepare reads either
    plain.write_bytes(gzip.decompress((source / f"{plain.name}.gz").read_bytes()))
    (source / f"{plain.name}.gz").unlink()
    assert run_stage(tmp_path, "download", source).returncode == 0
    found = raw.find_raw(source)
    assert {p.name for p in (tmp_path / "data/raw").iterdir()} == {
        p.name for p in raw.OUTPUTS.values()
    }  # and no temporary folder left behind
    for role, name in raw.FILES.items():
        assert (tmp_path / raw.OUTPUTS[role]).read_bytes() == found[name].read_bytes()

    (source / "train-images-idx3-ubyte.gz").unlink()
    result = run_stage(tmp_path, "download", source)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: data.source: missing mnist file(s) train-images")
    assert str(source) in result.stderr


@pytest.mark.slow  # runs a stage in a fresh Python process
def test_download_stage_offline_names_every_file_and_data_source(tmp_path):
    result = run_stage(tmp_path, "download")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert all(name in result.stderr for name in raw.FILES.values())
    assert "download failed" in result.stderr
    assert "set MNISTGAN_DATA_SOURCE (or data.source) to it" in result.stderr
    assert not list((tmp_path / "data/raw").rglob("*"))


@pytest.mark.slow  # runs a stage in a fresh Python process
def test_download_stage_copies_the_folder_the_variable_names_unless_data_source_is_set(tmp_path):
    """$MNISTGAN_DATA_SOURCE, a machine's own copy that no checkout of params.yaml loses,
    is copied as data.source is; its errors name the variable; data.source, when set, wins."""
    mine, other = small_idx_folder(tmp_path / "mine"), small_idx_folder(tmp_path / "other", n=20)
    assert run_stage(tmp_path, "download", variable=str(mine)).returncode == 0
    for role, name in raw.FILES.items():
        assert (tmp_path / raw.OUTPUTS[role]).read_bytes() == (mine / name).read_bytes()
    assert run_stage(tmp_path, "download", other, variable=str(mine)).returncode == 0
    for role, name in raw.FILES.items():
        assert (tmp_path / raw.OUTPUTS[role]).read_bytes() == (other / name).read_bytes()

    (mine / "t10k-labels-idx1-ubyte.gz").unlink()
    result = run_stage(tmp_path, "download", variable=str(mine))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        f"error: MNISTGAN_DATA_SOURCE: missing mnist file(s) t10k-labels-idx1-ubyte.gz in {mine}/"
    )


def test_download_with_wrong_md5_is_refused_and_not_kept(tmp_path, monkeypatch):
    def fake_download(url, root, filename):
        Path(root, filename).write_bytes(b"not mnist")

    monkeypatch.setattr(raw, "download_url", fake_download)
    errors = raw.download(tmp_path / "raw", ["t10k-labels-idx1-ubyte.gz"])
    assert len(errors) == len(raw.MNIST.mirrors)
    assert all("t10k-labels-idx1-ubyte.gz: MD5" in e and "!= official" in e for e in errors)
    assert not (tmp_path / "raw").exists()


def test_download_with_right_md5_is_kept(tmp_path, monkeypatch, real_mnist):
    name = "t10k-labels-idx1-ubyte.gz"
    monkeypatch.setattr(
        raw,
        "download_url",
        lambda url, root, filename: shutil.copy(real_mnist / name, Path(root, filename)),
    )
    assert raw.download(tmp_path / "raw", [name]) == []
    assert raw.md5(tmp_path / "raw" / name) == raw.official_md5("mnist")[name]


def test_limit_larger_than_data_is_refused():
    x, y = torch.zeros(20, 1, 28, 28, dtype=torch.uint8), torch.zeros(20, dtype=torch.int64)
    with pytest.raises(UserError, match=r"^data\.limit: got 50, expected at most 15"):
        splits.split(x, y, val_size=5, limit=50, seed=0)


def test_split_is_deterministic_and_disjoint():
    x = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1).expand(100, 1, 28, 28)
    y = torch.arange(100) % 10
    a, b = splits.split(x, y, 10, 30, 0), splits.split(x, y, 10, 30, 0)
    assert torch.equal(a["train"]["images"], b["train"]["images"])
    train_ids = set(a["train"]["images"][:, 0, 0, 0].tolist())
    val_ids = set(a["val"]["images"][:, 0, 0, 0].tolist())
    assert len(train_ids) == 30 and len(val_ids) == 10 and not train_ids & val_ids


def test_idx_roundtrip(tmp_path):
    array = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    for name in ("a.gz", "a"):
        write_idx(tmp_path / name, array)
        assert torch.equal(read_idx(tmp_path / name, (28, 28)), array)


@pytest.mark.parametrize(
    "head, item_shape, message",
    [
        (header(3, 2**31, 2**31, 4), (28, 28), "items are 2147483648x4, expected 28x28"),
        (header(3, 0, 28, 28), (28, 28), "holds no items"),
        (header(1, 0), (), "holds no items"),
        (header(1, MAX_ITEMS + 1), (), f"{MAX_ITEMS + 1:,} items, more than {MAX_ITEMS:,}"),
    ],
    ids=["overflowing dims", "no images", "no labels", "too many labels"],
)
def test_header_alone_is_refused(tmp_path, head, item_shape, message):
    """Sizes are exact Python ints (int64 would wrap 2^31 * 2^31 * 4 to 0 and pass a
    16-byte file), empty data sets are refused, and no header may claim more than
    MAX_ITEMS items: all before a byte of the body is read."""
    (tmp_path / "x.idx").write_bytes(head)
    with pytest.raises(UserError, match=f"^{tmp_path / 'x.idx'}: .*{message}"):
        read_idx(tmp_path / "x.idx", item_shape)


# Reads a gzip bomb; prints the peak memory the read added, in bytes, however it exits.
BOMB_READER = """
import atexit, re, sys
from pathlib import Path
from mnistgan.core.errors import exit_on_user_error
from mnistgan.data.idx import read_idx
kib = lambda key: int(re.search(key + r":\\s+(\\d+)", Path("/proc/self/status").read_text())[1])
Path("/proc/self/clear_refs").write_text("5")  # peak RSS (VmHWM) := RSS now
before = kib("VmRSS")
atexit.register(lambda: print((kib("VmHWM") - before) * 1024))
exit_on_user_error(lambda: read_idx(Path(sys.argv[1]), (28, 28)))
"""


@pytest.mark.slow  # starts a Python that imports torch
@pytest.mark.skipif(sys.platform != "linux", reason="reads peak memory from /proc")
def test_gzip_bomb_costs_the_header_size_not_the_inflated_size(tmp_path):
    """1 MB of gzip that inflates to 1 GiB of zeros behind the header of MNIST's 60,000
    training images: read only as far as the header says (47 MB), then refused."""
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    zeros = gzip.compress(bytes(1 << 24), mtime=0)  # members concatenate: still one gzip file
    bomb.write_bytes(gzip.compress(header(3, 60000, 28, 28), mtime=0) + zeros * 64)
    result = run(["python", "-c", BOMB_READER, str(bomb)], tmp_path, check=False, timeout=120)
    assert result.returncode == 1
    grew = int(result.stdout)
    assert grew < 2 * 60000 * 28 * 28, f"peak memory grew by {grew:,} bytes"
    assert result.stderr.startswith(f"error: {bomb}: ") and result.stderr.count("\n") == 1
    assert "holds more than 47040016 bytes, header of shape (60000, 28, 28)" in result.stderr


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "kmnist"])
def test_each_dataset_has_its_files_mirrors_and_md5s(dataset):
    md5s = raw.official_md5(dataset)
    assert set(md5s) == set(raw.FILES.values())
    assert all(len(m) == 32 for m in md5s.values())
    assert raw.DATASETS[dataset].mirrors
    assert len({m for d in raw.DATASETS for m in raw.official_md5(d).values()}) == 12


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(),
    reason="needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist; CI does)",
)
def test_fashion_mnist_from_debian_loads():
    found = raw.find_raw(Path("/usr/share/datasets/fashion-mnist"))
    files = splits.locate({role: found[name] for role, name in raw.FILES.items()})
    x, y = raw.load_pair(files["train_images"], files["train_labels"])
    assert x.shape == (60000, 1, 28, 28) and digit_counts(y).tolist() == [6000] * 10
    # Debian re-gzipped the files: same content, other archive bytes, so not "official".
    assert set(splits.provenance(files, "fashion-mnist")) == set(raw.FILES.values())


def prepared(n: int = 6) -> dict[str, torch.Tensor]:
    """What the prepare stage writes: uint8 images (n, 1, 28, 28), int64 labels 0-9."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
    return {"images": images, "labels": torch.arange(n) % 10}


GOOD = prepared()
LABEL_12 = torch.tensor([3, 12, 0, 1, 2, 3])
# What a hand-edited or swapped data/prepared/*.pt holds, and the one line that says so
HAND_EDITED = {
    "a list": ([1, 2], r"got \[1, 2\], expected a mapping of images and labels"),
    "no labels": ({"images": GOOD["images"]}, "no labels: expected a mapping"),
    "an extra key": (GOOD | {"x": 1}, "unexpected key 'x': expected images and labels only"),
    "label 12": (GOOD | {"labels": LABEL_12}, "labels: got 12, expected digits 0-9"),
    "label -1": (GOOD | {"labels": GOOD["labels"] - 1}, "labels: got -1, expected digits 0-9"),
    "fewer labels": (
        GOOD | {"labels": GOOD["labels"][:5]},
        r"labels: got torch.int64 \(5,\), expected int64 \(6,\), one per image",
    ),
    "int32 labels": (GOOD | {"labels": GOOD["labels"].int()}, "labels: got torch.int32"),
    "float images": (GOOD | {"images": GOOD["images"].float()}, "images: got torch.float32"),
    "flat images": (GOOD | {"images": GOOD["images"].view(6, 784)}, r"images: got .* \(6, 784\)"),
    "no images": ({"images": GOOD["images"][:0], "labels": GOOD["labels"][:0]}, "images: got"),
    "images a list": (GOOD | {"images": [0]}, r"images: got \[0\], expected a tensor"),
    "sparse images": (
        GOOD | {"images": GOOD["images"].to_sparse()},
        "images: a sparse_coo tensor, expected a dense one",
    ),
}


@pytest.mark.parametrize("case", HAND_EDITED)
def test_a_hand_edited_image_file_is_one_line_naming_it(tmp_path, case):
    content, message = HAND_EDITED[case]
    path = tmp_path / "train.pt"
    torch.save(content, path)
    with pytest.raises(UserError, match=f"^{path}: {message}") as e:
        load_images(path)
    assert "\n" not in str(e.value)


def test_samples_may_lack_labels_but_the_prepared_files_may_not(tmp_path):
    path = tmp_path / "samples.pt"
    torch.save({"images": GOOD["images"]}, path)
    assert torch.equal(load_images(path, labelled=False)["images"], GOOD["images"])
    torch.save(GOOD | {"labels": LABEL_12}, path)
    with pytest.raises(UserError, match="labels: got 12"):
        load_images(path, labelled=False)
    torch.save(GOOD, path)
    loaded = load_images(path)
    assert all(torch.equal(loaded[k], GOOD[k]) for k in GOOD)


def test_an_image_file_that_would_inflate_past_its_bound_is_refused_unread(tmp_path):
    """MAX_IMAGES images are 792 MB: 900 MiB of zeros in 0.9 MB of deflate are refused by the
    zip directory alone."""
    path = tmp_path / "train.pt"
    bomb(path, {"images": torch.zeros(MIB, dtype=torch.uint8)}, "images", 900)
    with pytest.raises(UserError, match=f"^{path}: refused: .* more than a data file holds"):
        load_images(path)


@pytest.mark.slow  # runs a stage in a fresh Python process
def test_a_stage_given_a_swapped_prepared_file_says_so_in_one_line(tmp_path):
    (tmp_path / "data/prepared").mkdir(parents=True)
    torch.save([1, 2], tmp_path / "data/prepared/train.pt")
    result = run_stage(tmp_path, "train_classifier")
    assert result.returncode == 1
    assert result.stderr == (
        "error: data/prepared/train.pt: got [1, 2], expected a mapping of images and labels\n"
    )


def outputs_in(repo: Path) -> dict[str, Path]:
    return {role: repo / path for role, path in raw.OUTPUTS.items()}


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
@pytest.mark.parametrize("target", ["/etc/passwd", "a valid IDX file"])
def test_download_refuses_a_link_out_of_the_source_folder(tmp_path, target):
    """A link to a file outside data.source would be copied into DVC's cache (and pushed):
    refused, naming it, with no output written, even when it links to digits."""
    source = small_idx_folder(tmp_path / "source")
    outside = small_idx_folder(tmp_path / "outside")
    name = "train-labels-idx1-ubyte.gz"
    (source / name).unlink()
    (source / name).symlink_to(target if target.startswith("/") else outside / name)
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", source, outputs_in(tmp_path / "repo"))
    assert str(e.value).startswith(f"data.source: {source / name} links to ")
    assert f"outside {source}/" in str(e.value)
    assert not list((tmp_path / "repo/data/raw").glob("*"))


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_download_follows_a_link_inside_the_source_folder(tmp_path):
    source = small_idx_folder(tmp_path / "source")
    name = "t10k-images-idx3-ubyte.gz"
    (source / name).rename(source / "kept.gz")
    (source / name).symlink_to("kept.gz")
    out = outputs_in(tmp_path / "repo")
    raw.fetch("mnist", source, out)
    assert out["test_images"].read_bytes() == (source / "kept.gz").read_bytes()


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("train-images-idx3-ubyte", b"root:x:0:0:root:/root:/bin/bash\n", "magic number 726f"),
        ("t10k-labels-idx1-ubyte.gz", header(1, 39) + bytes(39), "39 labels for 40 images"),
    ],
    ids=["a text file", "a wrong count"],
)
def test_download_checks_each_file_before_writing_any(tmp_path, name, payload, message):
    source = small_idx_folder(tmp_path / "source")
    (source / f"{name.removesuffix('.gz')}.gz").unlink(missing_ok=True)
    corrupt(source, name, payload, gz=name.endswith(".gz"))
    out = outputs_in(tmp_path / "repo")
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", source, out)
    assert str(e.value).startswith(f"{source / name}: ") and message in str(e.value)
    assert not list((tmp_path / "repo/data/raw").glob("*"))


# ---- the download stage reads before it copies, cleans up, and says what stops it ----


def test_download_reads_every_header_before_copying_any_file(tmp_path, monkeypatch):
    source = small_idx_folder(tmp_path / "source")
    corrupt(source, "t10k-labels-idx1-ubyte.gz", b"%PDF-1.7\n" + bytes(100))  # the last one read
    copied = []
    record = lambda src, dst, *rest: copied.append(src)  # noqa: E731
    monkeypatch.setattr(raw.shutil, "copyfile", record)
    monkeypatch.setattr(raw, "copy_file", record, raising=False)
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", source, outputs_in(tmp_path / "repo"))
    assert str(e.value) == (
        f"{source / 't10k-labels-idx1-ubyte.gz'}: not an IDX file of unsigned bytes with 1 "
        "dimension(s) (magic number 25504446, expected 00000801)"
    )
    assert copied == []


def test_download_removes_what_a_killed_run_left_and_git_ignores_it(tmp_path):
    out = outputs_in(tmp_path / "repo")
    folder = out["train_images"].parent
    (folder / ".incoming-k1ll3d").mkdir(parents=True)
    (folder / ".incoming-k1ll3d/train-images-idx3-ubyte.gz").write_bytes(bytes(1000))
    (folder / ".incoming-stray").write_bytes(b"x")
    (folder / "notes.txt").write_text("the user's, kept\n")
    raw.fetch("mnist", small_idx_folder(tmp_path / "source"), out)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(["notes.txt", *(p.name for p in raw.OUTPUTS.values())])
    ignored = run(["git", "check-ignore", "-q", "data/raw/.incoming-k1ll3d"], REPO, check=False)
    assert ignored.returncode == 0, "git should ignore what a killed download leaves"


def open_failing(monkeypatch, when, error: OSError) -> None:
    """Path.open raises `error` for the paths and modes `when(path, mode)` picks; for a write,
    at the first write, as a disk fills up."""
    real = Path.open

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise error

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def opening(path, mode="r", *args, **kwargs):
        if not when(path, mode):
            return real(path, mode, *args, **kwargs)
        if "w" in mode:
            return Full(real(path, mode, *args, **kwargs))
        raise error

    monkeypatch.setattr(Path, "open", opening)


def test_an_unreadable_source_file_is_one_line_naming_it(tmp_path, monkeypatch):
    source = small_idx_folder(tmp_path / "source")
    locked = source / "train-labels-idx1-ubyte.gz"
    denied = PermissionError(errno.EACCES, "Permission denied", str(locked))
    open_failing(monkeypatch, lambda path, mode: path == locked, denied)
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", source, outputs_in(tmp_path / "repo"))
    assert str(e.value) == f"{locked}: unreadable file (Permission denied)"


def test_a_source_folder_that_cannot_be_searched_is_one_line_naming_it(tmp_path, monkeypatch):
    source = small_idx_folder(tmp_path / "source")
    real = Path.stat

    def stat(path, **kwargs):  # what a folder without search permission (chmod a-x) gives
        if path.parent == source:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", source, outputs_in(tmp_path / "repo"))
    assert str(e.value) == (
        f"data.source: cannot look in {source}/ (Permission denied): "
        "the folder must be readable and searchable"
    )


@pytest.mark.parametrize(
    "failure",
    [
        PermissionError(errno.EACCES, "Permission denied"),
        OSError(errno.EROFS, "Read-only file system"),
    ],
    ids=["read-only folder", "read-only file system"],
)
def test_a_data_raw_that_cannot_be_written_is_one_line_naming_it(tmp_path, monkeypatch, failure):
    import tempfile

    def mkdtemp(*args, **kwargs):
        raise failure

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    out = outputs_in(tmp_path / "repo")
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", small_idx_folder(tmp_path / "source"), out)
    assert str(e.value) == (
        f"{out['train_images'].parent}: cannot write there ({failure.strerror}): "
        "the download stage puts its four files in it"
    )


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    out = outputs_in(tmp_path / "repo")
    folder = out["train_images"].parent
    full = OSError(errno.ENOSPC, "No space left on device")
    open_failing(monkeypatch, lambda path, mode: "w" in mode and ".incoming-" in str(path), full)
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", small_idx_folder(tmp_path / "source"), out)
    assert str(e.value) == (
        f"{folder}: cannot write there (No space left on device): "
        "the download stage puts its four files in it"
    )
    assert list(folder.iterdir()) == []  # no output, no temporary folder


def test_a_file_both_gzipped_and_plain_must_hold_the_same_data(tmp_path):
    source = small_idx_folder(tmp_path / "source")
    gz, plain = source / "train-labels-idx1-ubyte.gz", source / "train-labels-idx1-ubyte"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))  # the same labels, inflated: fine
    out = outputs_in(tmp_path / "repo")
    raw.fetch("mnist", source, out)
    assert out["train_labels"].read_bytes() == gz.read_bytes()

    plain.write_bytes(header(1, 40) + bytes([3] * 40))  # other labels: which one is meant?
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", source, out)
    assert str(e.value) == (
        f"data.source: {gz} and {plain} both hold train-labels-idx1-ubyte, "
        "with different data: keep the one you mean"
    )


def test_same_data_stops_at_its_limit_and_at_the_first_difference(tmp_path):
    a, b = tmp_path / "a.gz", tmp_path / "b"
    a.write_bytes(gzip.compress(bytes(10), mtime=0))
    b.write_bytes(bytes(10))
    assert raw.same_data(a, b, limit=10) and not raw.same_data(a, b, limit=9)
    b.write_bytes(bytes(9) + b"\x01")
    assert not raw.same_data(a, b, limit=10)
    b.write_bytes(bytes(11))
    assert not raw.same_data(a, b, limit=100)


def test_a_folder_at_an_output_path_is_refused_untouched(tmp_path):
    out = outputs_in(tmp_path / "repo")
    mine = out["train_images"]  # a folder the user made where the stage writes a file
    mine.mkdir(parents=True)
    (mine / "thesis.tex").write_text("years of work\n")
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", small_idx_folder(tmp_path / "source"), out)
    assert str(e.value) == (
        f"{mine}: not a file, where the download stage writes one (and `dvc repro` deletes "
        "whatever is there first): move it elsewhere"
    )
    assert (mine / "thesis.tex").read_text() == "years of work\n"
    assert sorted(p.name for p in mine.parent.iterdir()) == ["train-images"]


def test_a_source_at_an_output_path_says_dvc_deletes_it(tmp_path):
    out = outputs_in(tmp_path / "repo")
    source = small_idx_folder(out["test_images"])  # data.source: data/raw/test-images
    with pytest.raises(UserError) as e:
        raw.fetch("mnist", source, out)
    assert str(e.value) == (
        f"data.source: {source} is (inside) {out['test_images']}, an output of the download "
        "stage, which DVC deletes before the stage runs: keep your copy of the data in "
        f"another folder (beside it in {out['test_images'].parent}/ is fine)"
    )
    assert len(raw.find_raw(source)) == 4  # run by hand: nothing touched


def test_source_folder_is_data_source_else_the_variable_else_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    var = raw.SOURCE_VARIABLE
    assert var == "MNISTGAN_DATA_SOURCE"  # the name the README and the messages give
    assert raw.source_folder(None, {}) == (None, "")
    assert raw.source_folder(None, {var: ""}) == (None, "")  # set but empty: unset
    assert raw.source_folder(None, {var: "/mnist"}) == (Path("/mnist"), var)
    assert raw.source_folder(None, {var: "~/mnist"}) == (tmp_path / "mnist", var)
    assert raw.source_folder("~/own", {var: "/mnist"}) == (tmp_path / "own", "data.source")
    assert raw.source_folder("/own", {}) == (Path("/own"), "data.source")
