"""The digit classifier: a small LeNet whose penultimate layer is the feature space of the
sample-quality metrics (evaluation.quality), and whose softmax reads which digit a sample is.
Inception features are the wrong tool for 28x28 digits and cannot be fetched offline; MNIST
papers use a LeNet for this (Binkowski et al. 2018, App. F).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.core import progress
from mnistgan.core.device import forward_in_batches, sum_dtype
from mnistgan.core.digits import N_CLASSES
from mnistgan.core.errors import UserError
from mnistgan.core.params import EvaluatorParams
from mnistgan.core.pixels import to_unit

FEATURES = 128  # width of the penultimate layer: the dimension of the metrics' feature space


@dataclass(frozen=True)
class ClassifierConfig:
    """What builds the classifier, so what its model file holds: nothing yet, its layers are
    fixed (evaluator params shape its training, not its layers)."""


class LeNet(nn.Module):
    """conv5(16) -> pool -> conv5(32) -> pool -> fc(128) = features -> fc(10) = logits.

    Unpadded 5x5 convs (28 -> 24 -> 12 -> 8 -> 4) keep it about 1.1M multiply-adds per image,
    cheap next to the GAN it judges."""

    def __init__(self):
        super().__init__()
        self.config = ClassifierConfig()  # what a model file stores to build it again
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5),
            nn.ReLU(True),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5),
            nn.ReLU(True),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, FEATURES),
            nn.ReLU(True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURES, N_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build_classifier(config: ClassifierConfig) -> nn.Module:
    return LeNet()


@torch.no_grad()
def embed(classifier: nn.Module, images: torch.Tensor, batch: int = 1000):
    """Penultimate features (N, FEATURES) and class probabilities (N, 10) of uint8 images,
    computed on the classifier's device, returned on the CPU."""

    def features_and_probabilities(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = classifier.features(to_unit(x))
        return f, torch.softmax(classifier.head(f), dim=1)

    feats, probs = forward_in_batches(classifier, features_and_probabilities, images, batch=batch)
    return feats.cpu(), probs.cpu()


def accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, probs = embed(classifier, images)
    return float((probs.argmax(1) == labels).double().mean())


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    evaluator_params: EvaluatorParams,
    log=print,
    device: torch.device | str = "cpu",
    why_slow: Callable[[float, float], str] = lambda cpu_seconds, wall_seconds: "",
) -> nn.Module:
    """Adam with a cosine-decayed learning rate on uint8 `images`, on `device`; seeded, so
    repeatable on CPU. Returns the classifier on the CPU. Its pace is logged once, early
    (progress.Pace), with `why_slow` (cpu.contention) of that time.

    Batches are slices of one in-memory tensor in a seeded permuted order (no DataLoader),
    drawn on the CPU whatever the device, so every device sees the same batches.
    """
    batch_size, epochs = evaluator_params.batch_size, evaluator_params.epochs
    steps = len(images) // batch_size
    if steps == 0:
        raise UserError(
            f"evaluator.batch_size: got {batch_size}, expected at most {len(images)} "
            "(the number of training images)"
        )
    torch.manual_seed(evaluator_params.seed)  # weights and dropout
    classifier = LeNet().to(device)
    opt = torch.optim.Adam(classifier.parameters(), lr=evaluator_params.lr)
    total = epochs * steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total))
    )
    rng = torch.Generator().manual_seed(evaluator_params.seed)
    x, labels = to_unit(images).to(device), labels.to(device)
    pace = progress.Pace("classifier", total, why_slow)
    for epoch in range(epochs):
        classifier.train()
        perm = torch.randperm(len(x), generator=rng).to(device)
        # summed on the device: one host sync an epoch, for its log line, not one a step
        loss_sum = torch.zeros((), dtype=sum_dtype(x.device), device=x.device)
        for i in range(steps):
            idx = perm[i * batch_size : (i + 1) * batch_size]
            loss = F.cross_entropy(classifier(x[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach()
            if line := pace.step():
                log(line)
        log(f"classifier epoch {epoch + 1}/{epochs}: loss {float(loss_sum) / steps:.4f}")
    return classifier.cpu().eval()
