"""How good the samples are: the digit classifier and the metrics built on it."""
