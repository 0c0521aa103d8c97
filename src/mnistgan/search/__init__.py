"""A params search whose trials are DVC experiments: Optuna proposes, DVC's queue runs."""
