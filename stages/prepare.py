"""Stage prepare: raw MNIST IDX files -> data/prepared/{train,val,test}.pt, metrics/data.json."""

from pathlib import Path

from mnistgan import atomic, data, params
from mnistgan.errors import exit_on_user_error


def main() -> None:
    p = params.load()
    files = data.locate(Path(p.data.raw_dir), p.data.dataset)
    provenance = data.provenance(files, p.data.dataset)
    x, y = data.load_pair(files["train_images"], files["train_labels"])
    test_x, test_y = data.load_pair(files["test_images"], files["test_labels"])
    splits = data.split(x, y, p.data.val_size, p.data.limit, p.data.seed)
    splits["test"] = {"images": test_x, "labels": test_y}

    for name, split in splits.items():
        atomic.write_torch(f"data/prepared/{name}.pt", split)
    atomic.write_json(
        "metrics/data.json",
        {
            "dataset": p.data.dataset,
            "counts": {name: len(s["labels"]) for name, s in splits.items()},
            "class_counts": {name: data.class_counts(s["labels"]) for name, s in splits.items()},
            "files": provenance,
        },
    )


if __name__ == "__main__":
    exit_on_user_error(main)
