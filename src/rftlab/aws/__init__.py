"""Amazon Web Services: the one owner of boto3 (clients.py), Bedrock's model ids for inference
(models.py) and Converse (converse.py), shared by the Bedrock backends, the judges and prompt
paraphrasing."""

from rftlab.aws.clients import (
    READ_TIMEOUT_S,
    AwsError,
    aws_errors,
    client,
    client_config,
    reset_clients,
)

__all__ = ["READ_TIMEOUT_S", "AwsError", "aws_errors", "client", "client_config", "reset_clients"]
