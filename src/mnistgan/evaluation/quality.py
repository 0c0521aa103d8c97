"""Sample-quality metrics in the digit classifier's feature space (FID, KID, precision/recall,
density/coverage) and on its softmax (classifier score, class histogram, confidence).

Written in plain torch rather than taken from torchmetrics or prdc: prdc builds full N x N
distance matrices in numpy (three of 10000^2, plus scikit-learn, a heavy dependency), and
torchmetrics' FID/KID want image batches through its own update loop and float32 sums. Here
k-NN distances are computed in row blocks (memory O(N * BLOCK), not O(N^2)), moments and
kernel sums are float64, and every random subset comes from a seeded generator, so the same
features give the same numbers on every run.
"""

import torch

from mnistgan.core.digits import digit_counts

K = 5  # nearest neighbours for precision/recall/density/coverage (Kynkaanniemi; Naeem)
KID_SUBSETS = 100  # subsets and subset size of Binkowski et al.'s reference code,
KID_SUBSET_SIZE = 1000  # torchmetrics and clean-fid; capped at the set size
CONFIDENT = 0.9  # max softmax above which a sample counts as confidently classified
EPS = 1e-6  # added to each class's share before class_kl, so an empty class is not log(0)
BLOCK = 1024  # rows per block of the k-NN distance computations


def mean_cov(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.double()
    mu = x.mean(0)
    xc = x - mu
    return mu, xc.T @ xc / (len(x) - 1)


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2) between two Gaussians.

    tr((S1 S2)^1/2) is the sum of square roots of the eigenvalues of sqrt(S1) S2 sqrt(S1),
    a symmetric PSD matrix, so a symmetric eigensolver gives it stably and in real numbers
    (no complex sqrtm of the non-symmetric S1 S2, as in scipy-based FID code).
    """
    vals, vecs = torch.linalg.eigh(cov1.double())
    root1 = (vecs * vals.clamp(min=0).sqrt()) @ vecs.T
    m = root1 @ cov2.double() @ root1
    tr_sqrt = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    diff = mu1.double() - mu2.double()
    return float(diff @ diff + cov1.trace() + cov2.trace() - 2 * tr_sqrt)


def fid(x: torch.Tensor, y: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to the two feature sets (Heusel et al. 2017)."""
    return frechet_distance(*mean_cov(x), *mean_cov(y))


def kid(x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / d + 1)^3, averaged over KID_SUBSETS
    random subsets of KID_SUBSET_SIZE from each set (Binkowski et al. 2018)."""
    g = torch.Generator().manual_seed(seed)
    m = min(KID_SUBSET_SIZE, len(x), len(y))
    x, y = x.double(), y.double()
    d = x.shape[1]

    def kernel_sum(u: torch.Tensor, v: torch.Tensor, skip_diagonal: bool) -> torch.Tensor:
        k = (u @ v.T).div_(d).add_(1).pow_(3)  # in place: three m x m buffers fewer
        return k.sum() - k.trace() if skip_diagonal else k.sum()

    total = 0.0
    for _ in range(KID_SUBSETS):
        a = x[torch.randperm(len(x), generator=g)[:m]]
        b = y[torch.randperm(len(y), generator=g)[:m]]
        same = (kernel_sum(a, a, True) + kernel_sum(b, b, True)) / (m * (m - 1))
        total += float(same - 2 * kernel_sum(a, b, False) / (m * m))
    return total / KID_SUBSETS


def sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between the rows of `a` and of `b`."""
    return ((a * a).sum(1, keepdim=True) + (b * b).sum(1) - 2 * a @ b.T).clamp_(min=0)


def knn_radii(x: torch.Tensor, k: int = K) -> torch.Tensor:
    """Squared distance from each row of `x` to its k-th nearest other row, in row blocks."""
    if len(x) <= k:
        raise ValueError(f"need more than k={k} points for k-NN radii, got {len(x)}")
    x = x.float()
    # k + 1 smallest: the row itself (distance 0) comes first.
    return torch.cat(
        [sq_dists(rows, x).topk(k + 1, largest=False).values[:, -1] for rows in x.split(BLOCK)]
    )


def prdc(real: torch.Tensor, fake: torch.Tensor, real_radii: torch.Tensor, k: int = K) -> dict:
    """Precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et al.
    2020) of `fake` against `real`, with k-NN balls as in the authors' prdc package (strict
    `<`, so a set against itself scores exactly 1 on all four when no points coincide).

    Distances come in blocks of BLOCK real rows, so memory grows linearly with the set size.
    """
    real, fake = real.float(), fake.float()
    fake_radii = knn_radii(fake, k)
    inside = torch.zeros(len(fake), dtype=torch.int64)  # real balls that hold each fake point
    recalled, covered = [], []
    for rows, radii in zip(real.split(BLOCK), real_radii.split(BLOCK), strict=True):
        d = sq_dists(rows, fake)
        in_real_ball = d < radii[:, None]
        inside += in_real_ball.sum(0)
        recalled.append((d < fake_radii).any(1))
        covered.append(in_real_ball.any(1))
    return {
        "precision": float((inside > 0).double().mean()),
        "recall": float(torch.cat(recalled).double().mean()),
        "density": float(inside.double().sum() / (k * len(fake))),
        "coverage": float(torch.cat(covered).double().mean()),
    }


def classifier_score(probs: torch.Tensor) -> float:
    """exp(E_x[KL(p(y|x) || p(y))]): 10 when every class is equally frequent and classified
    with certainty, 1 when every image gets the same prediction (the "MNIST score")."""
    p = probs.double()
    kl = (torch.special.xlogy(p, p) - torch.special.xlogy(p, p.mean(0))).sum(1)
    return float(kl.mean().exp())


def class_histogram(labels: torch.Tensor) -> torch.Tensor:
    """Share of each digit 0-9 among `labels` (float64, sums to 1)."""
    return digit_counts(labels).double() / len(labels)


def modes_covered(hist: torch.Tensor) -> int:
    """Classes holding at least half their fair share (0.5 * N / 10) of the images."""
    return int((hist >= 0.5 / len(hist)).sum())


def class_kl(hist: torch.Tensor, real_hist: torch.Tensor) -> float:
    """KL(hist || real_hist), each share raised by EPS and renormalised so it stays finite."""
    p = (hist + EPS) / (1 + EPS * len(hist))
    q = (real_hist + EPS) / (1 + EPS * len(real_hist))
    return float((p * (p / q).log()).sum())


def conditional_accuracy(predicted: torch.Tensor, requested: torch.Tensor) -> float:
    """Share of conditional samples that the classifier reads as the digit they were drawn as."""
    return float((predicted == requested).double().mean())


def quality(
    ref: torch.Tensor,
    ref_radii: torch.Tensor,
    ref_hist: torch.Tensor,
    feats: torch.Tensor,
    probs: torch.Tensor,
    seed: int,
) -> dict:
    """Every metric of a set (features, softmax) against the reference set's features, k-NN
    radii and class histogram."""
    hist = class_histogram(probs.argmax(1))
    return {
        "fid": fid(ref, feats),
        "kid": kid(ref, feats, seed),
        "classifier_score": classifier_score(probs),
        **prdc(ref, feats, ref_radii),
        "modes_covered": modes_covered(hist),
        "class_kl": class_kl(hist, ref_hist),
        "confident_fraction": float((probs.max(1).values > CONFIDENT).double().mean()),
    }
