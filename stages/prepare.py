"""Stage prepare: the download stage's four files in data/raw/ -> data/prepared/{train,val,
test}.pt, the counts of each split (metrics/data.json) and where the data came from
(data/prepared/provenance.json)."""

from mnistgan.core import atomic, params
from mnistgan.core.digits import digit_counts
from mnistgan.core.errors import exit_on_user_error
from mnistgan.data import raw, splits


def main() -> None:
    p = params.load()
    files = splits.locate(raw.OUTPUTS, p.data.dataset)
    provenance = splits.provenance(files, p.data.dataset)
    x, y = raw.load_pair(files["train_images"], files["train_labels"])
    test_x, test_y = raw.load_pair(files["test_images"], files["test_labels"])
    sets = splits.split(x, y, p.data.val_size, p.data.limit, p.data.seed)
    sets["test"] = {"images": test_x, "labels": test_y}

    for name, split in sets.items():
        atomic.write_torch(f"data/prepared/{name}.pt", split)
    atomic.write_json(
        "data/prepared/provenance.json",
        {
            "dataset": p.data.dataset,
            "files": provenance,
            "class_counts": {name: digit_counts(s["labels"]).tolist() for name, s in sets.items()},
        },
    )
    atomic.write_json(
        "metrics/data.json", {"counts": {name: len(s["labels"]) for name, s in sets.items()}}
    )


if __name__ == "__main__":
    exit_on_user_error(main)
