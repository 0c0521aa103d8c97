"""Stage evaluator: data/prepared/train.pt -> models/evaluator.pt, metrics/evaluator.json.

Trains the digit classifier whose features the evaluate stage's quality metrics use."""

import sys
import time

from mnistgan import atomic, params
from mnistgan.checkpoint import load_safely, save_model
from mnistgan.errors import exit_on_user_error
from mnistgan.evaluator import accuracy, train_evaluator


def main() -> None:
    p = params.load().evaluator
    train = load_safely("data/prepared/train.pt")
    began = time.perf_counter()
    model = train_evaluator(
        train["images"], train["labels"], p, log=lambda m: print(m, file=sys.stderr)
    )
    print(f"evaluator trained in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    save_model("models/evaluator.pt", "evaluator", model, p)
    split = {name: load_safely(f"data/prepared/{name}.pt") for name in ("val", "test")}
    atomic.write_json(
        "metrics/evaluator.json",
        {
            "test_accuracy": accuracy(model, split["test"]["images"], split["test"]["labels"]),
            "val_accuracy": accuracy(model, split["val"]["images"], split["val"]["labels"]),
            "train_images": len(train["labels"]),
        },
    )


if __name__ == "__main__":
    exit_on_user_error(main)
