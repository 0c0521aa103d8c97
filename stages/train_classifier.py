"""Stage train_classifier: data/prepared/train.pt -> models/classifier.pt, metrics/classifier.json.

Trains the digit classifier whose features the evaluate stage's quality metrics use."""

import sys
import time

from mnistgan.core import atomic, cpu, device, params
from mnistgan.core.checkpoint import save_model
from mnistgan.core.errors import exit_on_user_error
from mnistgan.core.image_files import load_images
from mnistgan.core.progress import ticking
from mnistgan.evaluation.classifier import accuracy, train_classifier


def main() -> None:
    p = params.load()
    where = device.resolve(p.evaluator.device, "evaluator.device")
    device.make_deterministic(where)
    threads = cpu.set_threads(p.evaluator.threads)
    cpu.keep_freed_memory()
    train = load_images("data/prepared/train.pt")
    began = time.perf_counter()
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731

    def why_slow(cpu_seconds: float, wall_seconds: float) -> str:  # a crowded CPU, told early
        if where.type != "cpu":
            return ""
        return cpu.contention(
            cpu_seconds, wall_seconds, threads, "the classifier", "evaluator.threads"
        )

    classifier = train_classifier(
        train["images"], train["labels"], p.evaluator, log, where, why_slow
    )
    print(f"classifier trained in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    save_model("models/classifier.pt", "classifier", classifier)
    split = {name: load_images(f"data/prepared/{name}.pt") for name in ("val", "test")}
    atomic.write_json(
        "metrics/classifier.json",
        {
            "test_accuracy": accuracy(classifier, split["test"]["images"], split["test"]["labels"]),
            "val_accuracy": accuracy(classifier, split["val"]["images"], split["val"]["labels"]),
            "train_images": len(train["labels"]),
        },
    )


if __name__ == "__main__":
    with ticking("train_classifier"):  # a line a minute where nothing else is said
        exit_on_user_error(main)
