"""Open-weight RFT on Bedrock through its OpenAI-compatible fine-tuning API (docs/open_weight.md)."""
