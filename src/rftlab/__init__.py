"""rftlab: reproducible reinforcement fine-tuning toward one person's writing style."""

from rftlab.torch_numerics import pin

pin()  # before anything in this process imports torch: the same numerics on every CPU (torch_numerics.py)

__version__ = "0.1.0"
