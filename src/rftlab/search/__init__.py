"""Optuna over RFT hyperparameters across jobs: one trial = one RFT job (docs/search.md)."""
