"""The local RFT backend: TRL GRPO on CPU from a small causal LM trained here."""
