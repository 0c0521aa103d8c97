"""Stage prepare: raw MNIST IDX files -> data/prepared/{train,val,test}.pt, metrics/data.json."""

from pathlib import Path

from mnistgan import atomic, data, params
from mnistgan.digits import digit_counts
from mnistgan.errors import exit_on_user_error


def main() -> None:
    p = params.load().data
    files = data.locate(Path(p.raw_dir), p.dataset)
    provenance = data.provenance(files, p.dataset)
    x, y = data.load_pair(files["train_images"], files["train_labels"])
    test_x, test_y = data.load_pair(files["test_images"], files["test_labels"])
    splits = data.split(x, y, p.val_size, p.limit, p.seed)
    splits["test"] = {"images": test_x, "labels": test_y}

    for name, split in splits.items():
        atomic.write_torch(f"data/prepared/{name}.pt", split)
    atomic.write_json(
        "metrics/data.json",
        {
            "dataset": p.dataset,
            "counts": {name: len(s["labels"]) for name, s in splits.items()},
            "class_counts": {
                name: digit_counts(s["labels"]).tolist() for name, s in splits.items()
            },
            "files": provenance,
        },
    )


if __name__ == "__main__":
    exit_on_user_error(main)
