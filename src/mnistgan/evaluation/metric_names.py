"""Every metric the pipeline writes, by what it was scored against.

A metric scored against the test images reports; it never chooses (a search objective, a
temperature, a default): what chose on the test split has seen it, and its test score is then
an optimistic guess. Each metric that compares the samples with real images therefore comes
twice: against the test images, reported, and against the held-out validation images as
`val_<key>`, which may choose. Metrics of the samples alone read no real image and may choose
too."""

# scored against a set of real images: as <key> against the test split, val_<key> against val
REFERENCED = ("fid", "kid", "precision", "recall", "density", "coverage", "class_kl")
VALIDATION = tuple(f"val_{key}" for key in REFERENCED)

# read no real image: the samples' own class spread and sureness, D's verdict on the fakes
SAMPLES_ONLY = (
    "classifier_score",
    "modes_covered",
    "confident_fraction",
    "conditional_accuracy",
    "d_fake_mean",
)

# the test split, reported only: D on the test images, the floor, the classifier's accuracy
TEST = (*REFERENCED, "d_real_mean", "d_accuracy", "d_auc", "real_fid", "test_accuracy")

# training and the classifier: metrics/train/metrics.json, timing.json, classifier.json
TRAINING = (
    "d_loss",
    "g_loss",
    "d_real",
    "d_fake",
    "epoch",
    "step",
    "train_seconds",
    "train_images_per_s",
    "val_accuracy",
    "train_images",
)

CHOOSABLE = (*VALIDATION, *SAMPLES_ONLY, *TRAINING)
ALL = (*CHOOSABLE, *TEST)
