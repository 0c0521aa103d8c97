"""Stage prepare: data/raw/<dataset>/ -> data/prepared/{train,val,test}.pt, the counts of each
split (metrics/data.json) and where the data came from (data/prepared/provenance.json)."""

from mnistgan import atomic, data, params, raw
from mnistgan.digits import digit_counts
from mnistgan.errors import exit_on_user_error


def main() -> None:
    p = params.load()
    files = data.locate(raw.raw_folder(p.data.dataset), p.data.dataset)
    provenance = data.provenance(files, p.data.dataset)
    x, y = data.load_pair(files["train_images"], files["train_labels"])
    test_x, test_y = data.load_pair(files["test_images"], files["test_labels"])
    splits = data.split(x, y, p.data.val_size, p.data.limit, p.data.seed)
    splits["test"] = {"images": test_x, "labels": test_y}

    for name, split in splits.items():
        atomic.write_torch(f"data/prepared/{name}.pt", split)
    atomic.write_json(
        "data/prepared/provenance.json",
        {
            "dataset": p.data.dataset,
            "files": provenance,
            "class_counts": {
                name: digit_counts(s["labels"]).tolist() for name, s in splits.items()
            },
        },
    )
    atomic.write_json(
        "metrics/data.json", {"counts": {name: len(s["labels"]) for name, s in splits.items()}}
    )


if __name__ == "__main__":
    exit_on_user_error(main)
