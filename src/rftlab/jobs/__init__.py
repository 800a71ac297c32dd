"""RFT jobs: the backend protocol, the local (TRL GRPO) and Bedrock backends, cost."""
