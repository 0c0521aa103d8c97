"""The quality metrics on cases with known answers."""

import math

import pytest
import torch

from mnistgan.evaluation import quality
from mnistgan.evaluation.quality import (
    class_histogram,
    class_kl,
    classifier_score,
    fid,
    frechet_distance,
    kid,
    knn_radii,
    modes_covered,
    prdc,
)


def gaussian(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def random_spd(d: int, seed: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def test_fid_of_identical_sets_is_zero():
    x = gaussian(2000, 32, 0).relu()  # ReLU features, like the evaluator's
    assert abs(fid(x, x)) < 1e-8


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, -1.0, 2.5])
    s1, s2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + ((s1.sqrt() - s2.sqrt()) ** 2).sum()  # = 5.25 + 5
    got = frechet_distance(mu1, torch.diag(s1), mu2, torch.diag(s2))
    assert got == pytest.approx(float(expected), rel=1e-12)
    assert got == pytest.approx(10.25, rel=1e-12)


def test_frechet_distance_trace_term_for_non_commuting_covariances():
    # tr((S1 S2)^1/2) is also the sum of square roots of the (real, positive) eigenvalues of S1 S2.
    s1, s2 = random_spd(8, 1), random_spd(8, 2)
    mu = torch.zeros(8, dtype=torch.float64)
    tr_sqrt = torch.linalg.eigvals(s1 @ s2).real.sqrt().sum()
    expected = s1.trace() + s2.trace() - 2 * tr_sqrt
    assert frechet_distance(mu, s1, mu, s2) == pytest.approx(float(expected), rel=1e-9)


def test_fid_of_samples_approaches_the_gaussians_closed_form():
    scale = torch.tensor([1.0, 2.0, 0.5, 1.5])
    x = gaussian(100_000, 4, 3) * scale
    y = gaussian(100_000, 4, 4) * 1.0 + torch.tensor([0.5, 0.0, -0.5, 1.0])
    expected = 1.5 + ((scale - 1.0) ** 2).sum()  # ||mu||^2 + sum (sigma1 - sigma2)^2
    assert fid(x, y) == pytest.approx(float(expected), rel=0.03)


def brute_force_mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    k = lambda a, b: (float(a @ b) / len(a) + 1) ** 3  # noqa: E731
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_cubic_kernel_mmd_when_subsets_hold_every_point():
    # Subsets as large as the sets are permutations of them, so every subset gives the
    # full-set unbiased MMD^2, which we compute here term by term.
    x, y = gaussian(20, 5, 5).double(), gaussian(20, 5, 6, shift=0.3).double()
    assert kid(x, y, seed=0) == pytest.approx(brute_force_mmd2(x, y), rel=1e-9)


def test_kid_of_identical_sets_is_near_zero(monkeypatch):
    monkeypatch.setattr(quality, "KID_SUBSETS", 10)  # fast; the estimator is the same
    # Not exactly 0: subsets of one set share points, a bias of order 1/N (negative).
    x = gaussian(4000, 64, 7)
    shifted = kid(x, x + 0.5, seed=0)
    assert shifted > 0.5
    assert abs(kid(x, x, seed=0)) < 0.01 * shifted
    assert kid(x, x, seed=0) == kid(x, x, seed=0)  # seeded subsets: repeatable


def test_kid_of_two_samples_of_one_distribution_is_near_zero(monkeypatch):
    monkeypatch.setattr(quality, "KID_SUBSETS", 10)
    x, y = gaussian(3000, 64, 8), gaussian(3000, 64, 9)
    assert abs(kid(x, y, seed=1)) < 0.01 * kid(x, y + 0.5, seed=1)


def test_prdc_of_a_set_against_itself_is_one():
    x = gaussian(1500, 16, 10)
    got = prdc(x, x, knn_radii(x))
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0
    assert got["density"] == pytest.approx(1.0, abs=1e-3)


def test_prdc_of_a_far_away_set_is_zero():
    x = gaussian(500, 16, 11)
    got = prdc(x, x + 100.0, knn_radii(x))
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_sees_a_collapsed_generator():
    # Fakes that are copies of one tenth of the real set: all realistic (precision 1), but
    # they cover only part of the real manifold (recall and coverage low).
    real = gaussian(2000, 8, 12)
    fake = real[:200].repeat(10, 1) + 1e-3 * gaussian(2000, 8, 13)
    got = prdc(real, fake, knn_radii(real))
    assert got["precision"] == 1.0
    assert got["recall"] < 0.2  # 10% of real points, each with 5 neighbours: ~1 - 0.9^6 covered
    assert got["coverage"] < 0.6


def test_prdc_is_the_same_whatever_the_block_size(monkeypatch):
    real, fake = gaussian(300, 8, 14), gaussian(250, 8, 15, shift=0.2)
    whole = prdc(real, fake, knn_radii(real))
    monkeypatch.setattr(quality, "BLOCK", 7)
    assert prdc(real, fake, knn_radii(real)) == whole
    assert 0 < whole["precision"] < 1 and 0 < whole["recall"] < 1


def test_knn_radii_are_distances_to_the_kth_other_point():
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0], [15.0], [21.0]])
    # k=2: 0 -> {1, 3}: 3; 1 -> {0, 3}: 2; 3 -> {1, 0 or 6}: 3; ... squared distances.
    assert knn_radii(x, k=2).tolist() == [9.0, 4.0, 9.0, 16.0, 25.0, 36.0, 121.0]


def one_hot(labels: list[int]) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(labels), 10).double()


def test_classifier_score_known_answers():
    assert classifier_score(one_hot(list(range(10)) * 50)) == pytest.approx(10.0)
    assert classifier_score(one_hot([4] * 500)) == pytest.approx(1.0)
    assert classifier_score(torch.full((100, 10), 0.1)) == pytest.approx(1.0)
    assert classifier_score(one_hot([0, 1] * 50)) == pytest.approx(2.0)


def test_single_class_generator_covers_one_mode_with_large_class_kl():
    real = class_histogram(torch.arange(1000) % 10)
    fake = class_histogram(torch.full((1000,), 7))
    assert modes_covered(fake) == 1
    assert class_kl(fake, real) == pytest.approx(math.log(10), rel=1e-4)
    assert modes_covered(real) == 10
    assert class_kl(real, real) == 0.0


def test_modes_covered_counts_classes_with_half_their_fair_share():
    hist = class_histogram(torch.tensor([0] * 5 + [1] * 4 + [2] * 91))
    assert modes_covered(hist) == 2  # 5% is exactly half of 10%; 4% is not


def test_class_kl_is_finite_when_real_class_is_missing():
    real = class_histogram(torch.tensor([0, 1] * 50))
    fake = class_histogram(torch.tensor([2] * 100))
    assert math.isfinite(class_kl(fake, real)) and class_kl(fake, real) > 10


def test_quality_reports_every_metric():
    real = gaussian(300, 16, 16).relu()
    labels = torch.arange(300) % 10
    got = quality.quality(
        real, knn_radii(real), class_histogram(labels), real, one_hot(labels.tolist()), seed=0
    )
    assert set(got) == {
        "fid",
        "kid",
        "classifier_score",
        "precision",
        "recall",
        "density",
        "coverage",
        "modes_covered",
        "class_kl",
        "confident_fraction",
    }
    assert got["modes_covered"] == 10 and got["confident_fraction"] == 1.0
    assert got["classifier_score"] == pytest.approx(10.0) and got["class_kl"] == 0.0


def test_conditional_accuracy():
    requested = torch.tensor([7, 7, 3, 0])
    assert quality.conditional_accuracy(torch.tensor([7, 1, 3, 0]), requested) == 0.75
    assert quality.conditional_accuracy(requested, requested) == 1.0


def test_mean_cov_is_the_mean_and_the_unbiased_covariance():
    mu, cov = quality.mean_cov(torch.tensor([[1.0, 2.0], [3.0, 6.0], [2.0, 4.0]]))
    assert mu.dtype == torch.float64 and mu.tolist() == [2.0, 4.0]
    assert cov.tolist() == [[1.0, 2.0], [2.0, 4.0]]  # deviations (-1, -2), (1, 2), (0, 0); / 2


def test_fid_of_point_sets_with_known_moments():
    x = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # mean (0, 0), cov diag(1, 0)
    y = torch.tensor([[-1.0, 1.0], [3.0, 1.0], [1.0, 1.0]])  # mean (1, 1), cov diag(4, 0)
    # ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr (S1 S2)^1/2 = 2 + 1 + 4 - 2 * 2
    assert fid(x, y) == pytest.approx(3.0, rel=1e-12)
    assert fid(y, x) == pytest.approx(3.0, rel=1e-12)
    z = torch.tensor([[0.0, -2.0], [0.0, 2.0], [0.0, 0.0]])  # mean (0, 0), cov diag(0, 4)
    assert fid(x, z) == pytest.approx(1.0 + 4.0, rel=1e-12)  # S1 S2 = 0: no cross term


def test_kid_of_tiny_sets_by_hand(monkeypatch):
    # 3-d points (t, t, t): a.b / 3 is the product of the t's. x: t = 0, 1; y: t = 2, 3.
    x = torch.tensor([[0.0] * 3, [1.0] * 3])
    y = torch.tensor([[2.0] * 3, [3.0] * 3])
    # k(s, t) = (s t + 1)^3; off-diagonal xx: k(0, 1) = 1; yy: k(2, 3) = 343;
    # xy: (k(0, 2) + k(0, 3) + k(1, 2) + k(1, 3)) / 4 = (1 + 1 + 27 + 64) / 4 = 23.25
    assert kid(x, y, seed=0) == 1 + 343 - 2 * 23.25
    monkeypatch.setattr(quality, "KID_SUBSETS", 1)  # every subset is the whole set
    assert kid(x, y, seed=0) == 297.5
    # unequal sets: subsets of min(|x|, |y|) = 2 points, here all equal
    assert kid(torch.ones(3, 3), torch.full((2, 3), 2.0), seed=0) == 8 + 125 - 2 * 27
    assert kid(torch.ones(2, 3), torch.full((3, 3), 2.0), seed=0) == 8 + 125 - 2 * 27


def test_prdc_on_hand_placed_points():
    real = torch.tensor([[0.0], [1.0], [3.0], [6.0], [-10.0]])
    fake = torch.tensor([[0.5], [0.9], [4.0], [20.0]])
    radii = knn_radii(real, k=1)  # squared distance to the nearest other point
    assert radii.tolist() == [1.0, 1.0, 4.0, 9.0, 100.0]
    got = prdc(real, fake, radii, k=1)
    # fake balls (k=1): 0.5 and 0.9: 0.16, 4: 9.61, 20: 256.
    # real balls holding each fake: 0.5 in {0, 1}, 0.9 in {0, 1}, 4 in {3, 6}, 20 in none
    # real points in some fake ball: 1 (of 0.9), 3 and 6 (of 4); 0 and -10 in none
    assert got["precision"] == 0.75  # 3 of 4 fakes in some real ball
    assert got["recall"] == 0.6  # 3 of 5 real points in some fake ball
    assert got["density"] == 6 / 4  # real balls holding a fake, per fake and k
    assert got["coverage"] == 0.8  # real balls holding a fake: all but -10's


def test_prdc_balls_are_open():
    real, fake = torch.tensor([[0.0], [2.0], [5.0], [10.0]]), torch.tensor([[4.0], [7.0]])
    # squared radii (k=1): real 4, 4, 9, 25; fake 9, 9. On a boundary, so outside: fake 4
    # of real 2's ball (4, not < 4), real 10 of fake 7's ball (9, not < 9).
    # fake 4 lies in real 5's ball, fake 7 in real 5's and 10's: precision 1, density 3 / 2;
    # real 2 and 5 lie in fake 4's ball: recall 2 / 4; real balls 5 and 10 hold fakes: 2 / 4
    got = prdc(real, fake, knn_radii(real, k=1), k=1)
    assert got == {"precision": 1.0, "recall": 0.5, "density": 1.5, "coverage": 0.5}


def test_prdc_refuses_radii_that_do_not_match_the_real_set(monkeypatch):
    monkeypatch.setattr(quality, "BLOCK", 2)
    real = gaussian(5, 2, 18)
    with pytest.raises(ValueError):
        prdc(real, gaussian(6, 2, 19), knn_radii(real, k=1)[:3], k=1)


def test_knn_radii_need_more_points_than_neighbours():
    assert knn_radii(torch.tensor([[0.0], [2.0]]), k=1).tolist() == [4.0, 4.0]
    with pytest.raises(ValueError, match=r"^need more than k=2 points for k-NN radii, got 2$"):
        knn_radii(torch.tensor([[0.0], [2.0]]), k=2)


def test_sq_dists_by_hand():
    a, b = torch.tensor([[0.0, 0.0], [1.0, 2.0]]), torch.tensor([[3.0, 4.0]])
    assert quality.sq_dists(a, b).tolist() == [[25.0], [8.0]]


def test_classifier_score_of_unequal_confidences():
    # marginal (3/4, 1/4); KL: ln(4/3) for the sure image, (ln(2/3) + ln 2) / 2 for the other
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    assert classifier_score(probs) == pytest.approx((4 / 3) ** 0.75, rel=1e-12)


def test_class_kl_and_histogram_by_hand():
    hist = class_histogram(torch.tensor([0, 0, 0, 1]))
    assert hist.dtype == torch.float64 and hist.tolist() == [0.75, 0.25] + [0.0] * 8
    real = class_histogram(torch.tensor([0, 1]))
    p = (hist + quality.EPS) / (1 + 10 * quality.EPS)
    q = (real + quality.EPS) / (1 + 10 * quality.EPS)
    expected = float((p * (p / q).log()).sum())  # ~ 0.75 ln 1.5 + 0.25 ln 0.5
    assert class_kl(hist, real) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), rel=1e-4)


def test_confident_fraction_counts_max_softmax_above_the_threshold():
    real = gaussian(12, 4, 17)
    probs = torch.full((12, 10), 0.0)
    probs[:, 0] = 0.9  # exactly at the threshold: not confident
    probs[:, 1] = 0.1
    probs[:3, 0], probs[:3, 1] = 0.95, 0.05
    labels = torch.zeros(12, dtype=torch.long)
    got = quality.quality(real, knn_radii(real), class_histogram(labels), real, probs, seed=0)
    assert got["confident_fraction"] == 0.25
    assert got["modes_covered"] == 1 and got["fid"] == pytest.approx(0, abs=1e-9)
    assert got["kid"] == kid(real, real, seed=0)
