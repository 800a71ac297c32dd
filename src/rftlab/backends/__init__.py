"""RFT backends, one folder each, each registered as a plugin (rftlab.plugins, docs/backends.md):
local/ (TRL GRPO on this machine) and bedrock/ (Amazon Bedrock: Nova through CreateModelCustomizationJob,
and bedrock/open_weight/, open-weight models through Bedrock's OpenAI-compatible fine-tuning API)."""
