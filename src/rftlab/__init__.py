"""rftlab: reproducible reinforcement fine-tuning toward one person's writing style."""

__version__ = "0.1.0"
