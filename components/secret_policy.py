"""The HMAC secret's resource policy: its value is read or replaced only by the bronze
workers, the rotation role, the deployer (Pulumi reads the version back) and break-glass.

Who those are comes from :attr:`components.perimeter.Perimeter.hmac_key_readers`.
"""

from .perimeter import Perimeter, Policy


def hmac_secret_policy(perimeter: Perimeter) -> Policy:
    """The HMAC secret's resource policy: only its readers read or replace the key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyReadersUseTheHmacKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": [
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                # A secret's policy applies to that secret only: "*" is the secret itself.
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": perimeter.hmac_key_readers}},
            }
        ],
    }
