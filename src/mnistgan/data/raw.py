"""The four raw IDX files of a data set, and how the download stage gets them.

MNIST, Fashion-MNIST and KMNIST share the IDX format, the image size and the file names;
they differ in mirrors and MD5s, which come from torchvision's dataset classes.

The download stage writes four files of fixed names, OUTPUTS (data/raw/train-images, ...),
whatever the data set: DVC deletes a stage's outputs before running it, so no output path
depends on a param, and no output has the name of a file the stage reads (the official
names), so DVC can never delete the user's copy of the data whatever data.source says.
Each file holds the bytes fetched, gzipped or plain (readers tell by the first bytes). DVC
caches them, so queued experiments, `dvc exp run --temp` and other clones (`dvc pull`)
check them out instead of fetching them again.

DVC also deletes whatever sits at those four paths before the stage runs, a folder the
user made there included, and says nothing: no code of the stage runs first. The stage
refuses what it can still see (a data.source at one of them; run by hand, a folder there),
and docs/params.md says where not to keep data.
"""

import contextlib
import hashlib
import os
import shutil
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torchvision.datasets import KMNIST, MNIST, FashionMNIST
from torchvision.datasets.utils import download_url

from mnistgan.core.errors import UserError
from mnistgan.data import idx
from mnistgan.data.idx import read_idx

FILES = {  # role -> official file name
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
OUTPUTS = {role: Path("data/raw", role.replace("_", "-")) for role in FILES}  # dvc.yaml
SOURCE_VARIABLE = "MNISTGAN_DATA_SOURCE"
DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "kmnist": KMNIST}
ITEM_SHAPES = {"images": (28, 28), "labels": ()}  # by the role's last word
STAGING = ".incoming-"  # the prefix of the stage's temporary folder beside its outputs
CHUNK = 1 << 20


def official_md5(dataset: str) -> dict[str, str]:
    return dict(DATASETS[dataset].resources)


def md5(path: Path) -> str:
    with path.open("rb") as f:  # streamed: a plain file may be large
        return hashlib.file_digest(f, "md5").hexdigest()


def is_file(path: Path) -> bool:
    """Whether `path` is a regular file (links followed); a folder that cannot be searched is
    an OSError, not "no such file"."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def candidates(folder: Path, name: str) -> list[Path]:
    """The files of `folder` that may hold the official file `name`: gzipped, then plain."""
    return [c for c in (folder / name, folder / name.removesuffix(".gz")) if is_file(c)]


def find_raw(raw_dir: Path) -> dict[str, Path]:
    """Each official file found in `raw_dir`, gzipped or plain (name without .gz)."""
    found = {}
    for name in FILES.values():
        if files := candidates(raw_dir, name):
            found[name] = files[0]
    return found


def same_data(a: Path, b: Path, limit: int) -> bool:
    """Whether `a` and `b` hold the same bytes, each inflated if gzipped: compared in chunks,
    `limit` bytes at most (past it, or unreadable: not the same), so a gzip bomb costs none."""
    try:
        with idx.opened(a) as fa, idx.opened(b) as fb:
            seen = 0
            while seen <= limit:
                chunk = fa.read(CHUNK)
                if chunk != fb.read(CHUNK):
                    return False
                if not chunk:
                    return True
                seen += len(chunk)
    except (OSError, EOFError, zlib.error):
        pass
    return False


def load_pair(images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 28, 28) uint8 and labels (N,) int64, checked against each other."""
    x, y = read_idx(images, (28, 28)), read_idx(labels)
    if len(x) != len(y):
        raise UserError(f"{labels}: {len(y)} labels for {len(x)} images in {images.name}")
    if int(y.max()) > 9:
        raise UserError(f"{labels}: label {int(y.max())} outside 0-9")
    return x.unsqueeze(1).clone(), y.long()


def download(raw_dir: Path, names: list[str], dataset: str = "mnist") -> list[str]:
    """Fetch `names` from torchvision's mirrors into `raw_dir`, MD5-checked; return errors."""
    errors, md5s = [], official_md5(dataset)
    for name in names:
        for mirror in DATASETS[dataset].mirrors:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    download_url(mirror + name, tmp, filename=name)
                except Exception as e:  # any network failure: try the next mirror
                    errors.append(f"{mirror}{name}: {e}")
                    continue
                got = md5(Path(tmp, name))
                if got != md5s[name]:
                    errors.append(f"{mirror}{name}: MD5 {got} != official {md5s[name]}")
                    continue
                raw_dir.mkdir(parents=True, exist_ok=True)
                shutil.move(Path(tmp, name), raw_dir / name)
                break
    return errors


def source_folder(param: str | None, environ: Mapping[str, str]) -> tuple[Path | None, str]:
    """The folder the four files are copied from and the setting that named it: data.source
    when set, else $MNISTGAN_DATA_SOURCE when set and not empty, else (None, "") to download.
    The variable is where a machine's own copy belongs: no file that `git checkout` or
    `dvc exp run -S` rewrites holds it, and DVC does not track it, so neither pointing at
    another copy of the same files nor losing the setting makes the stage run again."""
    if param is not None:
        return Path(param).expanduser(), "data.source"
    if environ.get(SOURCE_VARIABLE):
        return Path(environ[SOURCE_VARIABLE]).expanduser(), SOURCE_VARIABLE
    return None, ""


def in_source(source: Path, dataset: str, named: str = "data.source") -> dict[str, Path]:
    """The four files of the folder `source`, each a file of that folder: a link leaving it
    (to /etc/passwd, say) is refused, as its target would be cached and pushed. A file there
    both gzipped and plain is refused unless the two hold the same data."""
    try:
        found = {name: candidates(source, name) for name in FILES.values()}
    except OSError as e:
        raise UserError(
            f"{named}: cannot look in {source}/ ({e.strerror or e}): "
            "the folder must be readable and searchable"
        ) from None
    missing = [name for name, files in found.items() if not files]
    if missing:
        raise UserError(
            f"{named}: missing {dataset} file(s) {', '.join(missing)} in {source}/ "
            "(put the four files there, plain or .gz)"
        )
    root = source.resolve()
    for path in (path for files in found.values() for path in files):
        if not path.resolve().is_relative_to(root):
            raise UserError(
                f"{named}: {path} links to {path.resolve()}, outside {source}/: "
                "copy the file into the folder instead"
            )
    limit = 16 + idx.MAX_ITEMS * 28 * 28  # the largest file of images read_idx accepts
    for name, files in found.items():
        if len(files) == 2 and not same_data(*files, limit):
            raise UserError(
                f"{named}: {files[0]} and {files[1]} both hold {name.removesuffix('.gz')}, "
                "with different data: keep the one you mean"
            )
    return {name: files[0] for name, files in found.items()}


def owned_by_stage(source: Path, outputs: dict[str, Path]) -> None:
    """Refuse a data.source at or inside one of the stage's outputs: DVC deletes those before
    the stage runs, so under `dvc repro` that copy is already gone; say so, not "missing"."""
    where = source.resolve()
    for out in outputs.values():
        if where == out.resolve() or where.is_relative_to(out.resolve()):
            raise UserError(
                f"data.source: {source} is (inside) {out}, an output of the download stage, "
                "which DVC deletes before the stage runs: keep your copy of the data in "
                f"another folder (beside it in {out.parent}/ is fine)"
            )


def no_folders_at(outputs: dict[str, Path]) -> None:
    """Refuse to run while an output path holds anything but a file (a folder someone made):
    run by hand, the stage would replace it; DVC would have deleted it already."""
    for out in outputs.values():
        if out.exists() and not out.is_file():
            raise UserError(
                f"{out}: not a file, where the download stage writes one (and `dvc repro` "
                "deletes whatever is there first): move it elsewhere"
            )


def cannot_write(folder: Path, e: OSError) -> UserError:
    return UserError(
        f"{folder}: cannot write there ({e.strerror or e}): the download stage "
        "puts its four files in it"
    )


@contextlib.contextmanager
def staging_folder(folder: Path) -> Iterator[Path]:
    """A new temporary folder in `folder`, removed on the way out; the ones a killed run left
    (SIGKILL skips every cleanup) are removed first: DVC runs one stage of a workspace at a
    time, so no other run owns them."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f"{STAGING}*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        tmp = tempfile.TemporaryDirectory(dir=folder, prefix=STAGING, ignore_cleanup_errors=True)
    except OSError as e:
        raise cannot_write(folder, e) from None
    with tmp:
        yield Path(tmp.name)


def copy_file(src: Path, dst: Path, folder: Path) -> None:
    """`src`'s bytes into `dst`, in chunks: a failed read is a UserError naming `src`, a failed
    write (a full disk, a read-only folder) one naming `folder`, the outputs' folder."""
    try:
        fin = src.open("rb")
    except OSError as e:
        raise UserError(f"{src}: unreadable file ({e.strerror or e})") from None
    with fin:
        try:
            with dst.open("wb") as fout:
                while True:
                    try:
                        chunk = fin.read(CHUNK)
                    except OSError as e:
                        raise UserError(f"{src}: unreadable file ({e.strerror or e})") from None
                    if not chunk:
                        break
                    fout.write(chunk)
        except OSError as e:
            raise cannot_write(folder, e) from None


def fetch(
    dataset: str,
    source: Path | None,
    outputs: dict[str, Path] = OUTPUTS,
    named: str = "data.source",
) -> None:
    """The four files into `outputs`: copied as they are (plain or .gz) from the folder
    `source` (messages name it as the setting `named`) when it is given, else downloaded. A
    source file's IDX header is read before it is copied; the copies land in a temporary
    folder beside the outputs and are read whole as IDX files of images and labels (header,
    dims, counts, labels 0-9) before any output is written; a UserError names each file that
    is missing or bad, or the folder that cannot be written."""
    folder = outputs["train_images"].parent
    if source is not None:
        owned_by_stage(source, outputs)
        sources = in_source(source, dataset, named)
        for role, name in FILES.items():  # each header, before any file is copied
            idx.check_header(sources[name], ITEM_SHAPES[role.split("_")[1]])
    no_folders_at(outputs)
    with staging_folder(folder) as staging:
        if source is not None:
            for path in sources.values():
                copy_file(path, staging / path.name, folder)
        else:
            print(f"downloading {dataset} into {folder}", file=sys.stderr)
            try:
                errors = download(staging, list(FILES.values()), dataset)
            except OSError as e:  # the move into the staging folder
                raise cannot_write(folder, e) from None
            missing = [n for n in FILES.values() if n not in find_raw(staging)]
            if missing:
                raise UserError(
                    f"missing {dataset} file(s) {', '.join(missing)}: download failed "
                    f"({'; '.join(errors[-2:])}); offline, put the four files (plain or .gz) "
                    f"in a folder and set {SOURCE_VARIABLE} (or data.source) to it"
                )
        found = find_raw(staging)
        files = {role: found[name] for role, name in FILES.items()}
        try:
            for split in ("train", "test"):
                load_pair(files[f"{split}_images"], files[f"{split}_labels"])
        except UserError as e:  # name the user's file, not its copy
            raise UserError(str(e).replace(str(staging), str(source or dataset))) from None
        try:
            for role, path in files.items():
                os.replace(path, outputs[role])
        except OSError as e:
            raise cannot_write(folder, e) from None
