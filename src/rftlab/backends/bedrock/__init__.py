"""The Amazon Bedrock RFT backend (boto3): launch, follow, metrics, grader Lambda, IAM, deploy."""
