"""The lake key's policy: who may use the key, and how outsiders may not.

    account root administers through IAM (the KMS lockout rule) · S3 access logs, CloudWatch
    Logs, vended log delivery, EventBridge → queues, alarms and budgets → the alarm topic ·
    outsiders use it only through the lake's services (kms:ViaService) · only the HMAC key's
    readers decrypt through Secrets Manager · outsiders never decrypt through Kinesis (the CDC
    stream is an inbox) · outsiders create grants only through AWS services

Who is inside comes from :mod:`components.perimeter`.
"""

from .perimeter import Perimeter, Policy, outsiders
from .policies import alarm_publishers_key_use

KEY_DATA_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
OUTSIDER_KEY_SERVICES = (
    "s3",  # SSE-KMS: every data prefix an outsider could reach is sealed by the bucket policy
    "dynamodb",  # the control table (object keys and statuses, no row values): datalake status
    "states",  # starting and following executions: datalake process
    "sqs",  # reading and redriving dead letters
    "logs",
    "ecr",  # the deployer pushes the ingest image
    "lambda",
    "athena",
    "secretsmanager",  # narrowed to the HMAC key's readers by DenySecretDecryptionOutsideReaders
    "kinesis",  # producers put CDC records; reading them is denied by DenyStreamReads*
    "dms",  # the deployer creates DMS endpoints and replications on the lake key
)
"""Services through which a principal outside the lake may still use the key."""


def key_policy(perimeter: Perimeter) -> Policy:
    """The lake key's policy: administration through IAM, the services that encrypt logs and
    messages, and the denies that keep outsiders to the lake's services."""
    p, account, region = perimeter.partition, perimeter.account_id, perimeter.region
    this_account = {"aws:SourceAccount": account}
    log_actions = [
        "kms:Encrypt*",
        "kms:Decrypt*",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:Describe*",
    ]
    statements: list[Policy] = [
        {
            # The KMS lockout rule: the account keeps kms:* so IAM can always manage the key.
            "Sid": "AccountAdministersThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{p}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "S3ServerAccessLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": this_account},
        },
        {
            "Sid": "CloudWatchLogsEncryption",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": log_actions,
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{p}:logs:{region}:{account}:log-group:*"
                    )
                }
            },
        },
        {
            # Step Functions (vended) logs reach key-encrypted log groups through this service.
            "Sid": "VendedLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": log_actions,
            "Resource": "*",
            "Condition": {
                "StringEquals": this_account,
                "ArnLike": {"aws:SourceArn": f"arn:{p}:logs:{region}:{account}:*"},
            },
        },
        {
            # EventBridge rules deliver to their key-encrypted dead-letter queues as the service.
            "Sid": "EventBridgeToEncryptedQueues",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {**this_account, "kms:ViaService": perimeter.service("sqs")}
            },
        },
        # CloudWatch alarms and Budgets → the key-encrypted alarm topic.
        *alarm_publishers_key_use(p, account, region, perimeter.prefix),
    ]
    via_lake_services = [perimeter.service(s) for s in OUTSIDER_KEY_SERVICES]
    for suffix, who in outsiders(perimeter):
        statements.append(
            {
                "Sid": f"DenyKeyUse{suffix}",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(KEY_DATA_ACTIONS),
                "Resource": "*",
                "Condition": {
                    **who,
                    # Services acting as themselves (logs, S3 log delivery, grants) are not denied.
                    "Bool": {"aws:PrincipalIsAWSService": "false"},
                    "StringNotEquals": {"kms:ViaService": via_lake_services},
                },
            }
        )
    statements += [
        {
            "Sid": "DenySecretDecryptionOutsideReaders",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(KEY_DATA_ACTIONS),
            "Resource": "*",
            "Condition": {
                "ArnNotLike": {"aws:PrincipalArn": perimeter.hmac_key_readers},
                "StringEquals": {"kms:ViaService": perimeter.service("secretsmanager")},
            },
        },
    ]
    for suffix, who in outsiders(perimeter):
        statements.append(
            {
                # The CDC stream is an inbox like raw/: outsiders put, only the lake reads.
                "Sid": f"DenyStreamReads{suffix}",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    **who,
                    "StringEquals": {"kms:ViaService": perimeter.service("kinesis")},
                },
            }
        )
    for suffix, who in outsiders(perimeter):
        statements.append(
            {
                # A grant would bypass the denies above; services create theirs for the caller.
                "Sid": f"DenyGrants{suffix}",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {**who, "Bool": {"kms:GrantIsForAWSResource": "false"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
