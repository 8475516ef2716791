"""Secrets Manager rotation of the HMAC key (the four-step protocol for a generic secret).

Rotating the key changes every ``hash`` token from then on: values hashed before and after do
not join. See docs/pii.md before turning rotation on.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3

log = logging.getLogger(__name__)
KEY_LENGTH = 64


def rotation_handler(event: dict[str, Any], context: Any = None, client: Any = None) -> None:
    """Entry point Secrets Manager invokes for each rotation step."""
    secrets = client or boto3.client("secretsmanager")
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    metadata = secrets.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"rotation is not enabled for {arn}")
    versions = metadata["VersionIdsToStages"]
    if token not in versions:
        raise ValueError(f"version {token} of {arn} is not staged for rotation")
    if "AWSCURRENT" in versions[token]:
        log.info("version %s is already current", token)
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError(f"version {token} of {arn} is not pending")
    if step == "createSecret":
        try:
            secrets.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except secrets.exceptions.ResourceNotFoundException:
            key = secrets.get_random_password(PasswordLength=KEY_LENGTH, ExcludePunctuation=True)[
                "RandomPassword"
            ]
            secrets.put_secret_value(
                SecretId=arn,
                ClientRequestToken=token,
                SecretString=key,
                VersionStages=["AWSPENDING"],
            )
    elif step in ("setSecret", "testSecret"):
        pass  # workers only read the key: there is no other system to update or test
    elif step == "finishSecret":
        current = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        secrets.update_secret_version_stage(
            SecretId=arn,
            VersionStage="AWSCURRENT",
            MoveToVersionId=token,
            RemoveFromVersionId=current,
        )
    else:
        raise ValueError(f"unknown rotation step {step!r}")
