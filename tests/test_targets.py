"""The targets behind evaluate's closing table, and the README's Results table that lists them."""

from conftest import REPO

from mnistgan.evaluation import targets

METRICS = {
    "fid": 4.28,
    "precision": 0.92,
    "recall": 0.84,
    "classifier_score": 9.77,
    "modes_covered": 10,
    "class_kl": 0.0012,
    "conditional_accuracy": 0.997,
}
FLOOR = {
    "real_fid": 1.89,
    "real_precision": 0.942,
    "real_recall": 0.95,
    "real_classifier_score": 9.73,
    "real_modes_covered": 10,
    "real_class_kl": 0.0005,
}


def test_table_puts_each_metric_beside_its_floor_and_target():
    lines = targets.table(METRICS, FLOOR, conditional=False, n_scored=10000).splitlines()
    assert lines[0].split() == ["metric", "samples", "real", "floor", "target", "met"]
    assert lines[1].split() == ["FID", "4.28", "1.89", "<=", "5.67", "(3x", "floor)", "yes"]
    assert lines[3].split() == ["recall", "0.84", "0.95", ">=", "0.85", "NO"]
    assert lines[6].split() == ["class", "KL", "0.0012", "0.0005", "<=", "0.01", "yes"]
    assert len(lines) == 7 and len({len(line.rstrip()) for line in lines[1:]}) <= 2


def test_conditional_model_is_held_to_1_5x_the_fid_floor_and_its_digit():
    lines = targets.table(METRICS, FLOOR, conditional=True, n_scored=10000).splitlines()
    assert lines[1].split() == ["FID", "4.28", "1.89", "<=", "2.835", "(1.5x", "floor)", "NO"]
    assert lines[-1].split() == ["conditional", "accuracy", "0.997", ">=", "0.99", "yes"]


def test_too_few_scored_images_judge_no_target_and_say_why():
    """A smoke run's 2,000 images: the floor itself misses targets set on 10,000, so every
    row says n/a, not NO, and a last line says why; from 5,000 on, the verdicts are back."""
    smoke = {**METRICS, "precision": 0.8, "classifier_score": 7.1}  # the floor misses too
    lines = targets.table(smoke, FLOOR, conditional=True, n_scored=4999).splitlines()
    assert lines[2].split() == ["precision", "0.8", "0.942", ">=", "0.85", "n/a"]
    assert lines[4].split() == ["classifier", "score", "7.1", "9.73", ">=", "9.5", "n/a"]
    assert [line.split()[-1] for line in lines[1:-1]] == ["n/a"] * 7
    assert lines[-1] == (
        "n/a: the targets hold for at least 5000 scored images; evaluate.n_samples is 4999"
    )
    enough = targets.table(smoke, FLOOR, conditional=True, n_scored=5000).splitlines()
    assert [line.split()[-1] for line in enough[1:]] == ["NO", "NO", "NO", "NO"] + ["yes"] * 3
    assert [a.split()[:-1] for a in enough[1:]] == [b.split()[:-1] for b in lines[1:-1]]


def test_bounds_are_inclusive():
    fid = targets.targets(conditional=False)[0]
    assert targets.met(fid, 3 * 1.89, FLOOR) and not targets.met(fid, 3 * 1.89 + 1e-9, FLOOR)
    score = targets.targets(conditional=False)[3]
    assert targets.met(score, 9.5, FLOOR) and not targets.met(score, 9.49, FLOOR)


def test_readme_results_table_lists_the_targets():
    readme = (REPO / "README.md").read_text()
    row = {line.split("|")[1].strip(): line for line in readme.splitlines() if line[:2] == "| "}
    assert "(3x floor)" in row["FID (test)"] and "(1.5x)" in row["FID (test)"]
    assert ">= 9.5" in row["classifier score"] and ">= 0.85 each" in row["precision / recall"]
    assert "10, <= 0.01" in row["modes covered / class KL"]
    assert ">= 0.99" in row["conditional accuracy"]
    uncond, cond = targets.targets(False), targets.targets(True)
    assert (uncond[0].bound, cond[0].bound) == (3.0, 1.5)
    assert [t.bound for t in uncond[1:]] == [0.85, 0.85, 9.5, 10, 0.01]
    assert cond[-1].bound == 0.99
