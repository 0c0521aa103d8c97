"""Stage evaluate: the discriminator's verdict on samples vs held-out real test images."""

import torch

from mnistgan import atomic, params
from mnistgan.checkpoint import load_model, load_safely
from mnistgan.errors import UserError, exit_on_user_error
from mnistgan.evaluation import d_scores, discriminator_metrics
from mnistgan.tabular import write_csv


def main() -> None:
    p = params.load().evaluate
    fake = load_safely("data/samples/samples.pt")["images"]
    real = load_safely("data/prepared/test.pt")["images"]
    n = p.n_samples
    if n > min(len(fake), len(real)):
        raise UserError(
            f"evaluate.n_samples: got {n}, expected at most {min(len(fake), len(real))} "
            f"({len(fake)} samples from sample.n, {len(real)} test images)"
        )
    real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(p.seed))[:n]]
    d, _ = load_model("models/discriminator.pt", "discriminator")
    real_scores, fake_scores = d_scores(d, real), d_scores(d, fake[:n])

    atomic.write_json("metrics/eval.json", discriminator_metrics(real_scores, fake_scores))
    rows = [["real", s] for s in real_scores.tolist()] + [["fake", s] for s in fake_scores.tolist()]
    write_csv("metrics/eval/d_scores.csv", ["source", "d_score"], rows)


if __name__ == "__main__":
    exit_on_user_error(main)
