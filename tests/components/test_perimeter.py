"""The perimeter around raw PII, bronze, silver and the HMAC key, decided request by request.

moto 5.2.5 cannot judge these policies: its request authorization collects identity policies
only (``IAMRequestBase.check_action_permitted`` never reads a bucket, key or secret policy),
and its condition evaluation implements ``StringEquals`` alone and treats every other operator
as holding, so ``ArnNotLike aws:PrincipalArn`` would deny the lake's own roles too. The tests
therefore evaluate the program's generated documents with :func:`decide`, a small evaluator of
the AWS policy evaluation logic for one account: an explicit ``Deny`` in any policy wins; S3
and Secrets Manager allow when the identity policy or the resource policy does; KMS allows
when the key policy does, directly or through the account-root statement plus the identity
policy. Conditions: the ``String``/``Arn``/``Bool``/``Numeric`` operators, ``IfExists``, and
AWS's rule that a negated operator holds when the key is absent from the request.
:func:`test_the_evaluator_agrees_with_moto_where_moto_can_judge` checks it against moto's
evaluator on condition-free identity policies.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from components.perimeter import HMAC_KEY_READERS
from components.preview import ACCOUNT_ID, DEPLOYER_ROLE_ARN
from components.secret_policy import hmac_secret_policy
from tests.components.inventory import Inventory, run_stack, with_lake

REGION = "eu-west-1"
SUFFIX = f"eu-west-1-{ACCOUNT_ID}"
LANDING, LAKE = f"datalake-prod-landing-{SUFFIX}", f"datalake-prod-lake-{SUFFIX}"
ARTIFACTS, OBSERVER = f"datalake-prod-artifacts-{SUFFIX}", f"datalake-prod-observer-{SUFFIX}"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/key-storage-key"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:datalake-prod-pii-hmac-key"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT_ID}:role/security/IncidentResponder"
POWER_USER = f"arn:aws:iam::{ACCOUNT_ID}:role/PowerUser"
DEMO_USER = f"arn:aws:iam::{ACCOUNT_ID}:user/datalake-prod-gold-demo"
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:*", "kms:*", "secretsmanager:*"],
            "Resource": "*",
        }
    ],
}
"""The identity policy of an ordinary, broadly privileged account principal (a PowerUser)."""


# --- the evaluator -------------------------------------------------------------------------


@dataclass
class Request:
    principal: str
    """``aws:PrincipalArn`` (a role or user ARN), or a service principal's name."""
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)

    @property
    def is_service(self) -> bool:
        return self.principal.endswith(".amazonaws.com")

    def value(self, key: str) -> str | None:
        keys = {
            "aws:principalarn": None if self.is_service else self.principal,
            "aws:principalisawsservice": "true" if self.is_service else "false",
            "aws:securetransport": "true",
            "s3:tlsversion": "1.3",
            **{k.lower(): v for k, v in self.context.items()},
        }
        return keys.get(key.lower())


def _values(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _operator_holds(operator: str, expected: list[str], actual: str | None) -> bool:
    base = operator.removesuffix("IfExists")
    negated = "Not" in base
    if base == "Null":
        return (actual is None) is (expected[0].lower() == "true")
    if actual is None:
        return negated or operator.endswith("IfExists")
    if base.startswith("Numeric"):
        assert base == "NumericLessThan", operator
        return any(float(actual) < float(e) for e in expected)
    if base == "Bool":
        return actual.lower() in [e.lower() for e in expected]
    if base.replace("Not", "") in ("StringLike", "ArnLike"):
        matched = any(fnmatch.fnmatchcase(actual, e) for e in expected)
    else:
        assert base.replace("Not", "") in ("StringEquals", "ArnEquals"), operator
        matched = actual in expected
    return not matched if negated else matched


def _conditions_hold(statement: dict[str, Any], request: Request) -> bool:
    return all(
        _operator_holds(operator, _values(expected), request.value(key))
        for operator, tests in statement.get("Condition", {}).items()
        for key, expected in tests.items()
    )


def _matches(patterns: Any, value: str, *, case: bool) -> bool:
    if case:
        return any(fnmatch.fnmatchcase(value, p) for p in _values(patterns))
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in _values(patterns))


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal is None or principal == "*" or principal == {"AWS": "*"}:
        return True
    if request.is_service:
        return request.principal in _values(principal.get("Service", []))
    account_root = f"arn:aws:iam::{request.principal.split(':')[4]}:root"
    named = _values(principal.get("AWS", []))
    return request.principal in named or account_root in named


def _effects(doc: dict[str, Any], request: Request, *, resource_policy: bool) -> set[str]:
    """The effects of the statements of ``doc`` that apply to ``request``."""
    out = set()
    for s in doc["Statement"]:
        if resource_policy and not _principal_matches(s.get("Principal"), request):
            continue
        if "NotAction" in s:
            action_ok = not _matches(s["NotAction"], request.action, case=False)
        else:
            action_ok = _matches(s["Action"], request.action, case=False)
        resource_ok = _matches(s["Resource"], request.resource, case=True)
        if action_ok and resource_ok and _conditions_hold(s, request):
            out.add(s["Effect"])
    return out


def decide(request: Request, identity: list[dict[str, Any]], resource: dict[str, Any]) -> bool:
    """Whether AWS allows a same-account ``request`` (see the module docstring)."""
    own = set().union(*(_effects(d, request, resource_policy=False) for d in identity))
    on_resource = _effects(resource, request, resource_policy=True)
    if "Deny" in own | on_resource:
        return False
    if request.action.lower().startswith("kms:"):
        root = f"arn:aws:iam::{ACCOUNT_ID}:root"
        delegated = any(
            s["Effect"] == "Allow" and root in _values(s.get("Principal", {}).get("AWS", []))
            for s in resource["Statement"]
        )
        direct = any(
            s["Effect"] == "Allow" and "AWS" not in (s.get("Principal") or {})
            for s in resource["Statement"]
            if _principal_matches(s.get("Principal"), request)
            and _matches(s["Action"], request.action, case=False)
            and _conditions_hold(s, request)
        )
        return direct or (delegated and not request.is_service and "Allow" in own)
    return "Allow" in own | on_resource


# --- the stack under test ------------------------------------------------------------------


STREAM_SOURCE = {
    "engine": "postgres",
    "database_name": "beer",
    "secret_arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:cdc/beer-AbCdEf",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
}


@pytest.fixture(scope="module")
def lake() -> Inventory:
    """Prod with a break-glass role, the HMAC key's rotation on and streaming CDC from DMS."""
    config = with_lake(
        "prod",
        governance={"break_glass_principals": [BREAK_GLASS]},
        pii={"secret_rotation_days": 90},
        streaming={"enabled": True, "source": STREAM_SOURCE},
    )
    return run_stack(config, "prod")


def role_arn(purpose: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-prod-{purpose}"


def identity_of(lake: Inventory, purpose: str) -> list[dict[str, Any]]:
    """Every identity policy of a lake role: inline policies and attached managed ones."""
    name = f"datalake-prod-{purpose}"
    managed = {p.inputs["name"]: p for p in lake.of_type("aws:iam/policy:Policy")}
    docs = [
        json.loads(p.inputs["policy"])
        for p in lake.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == name
    ]
    for attachment in lake.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if attachment.inputs["role"] == name:
            attached = managed[attachment.inputs["policyArn"].rsplit(":", 1)[-1]]
            docs.append(json.loads(attached.inputs["policy"]))
    assert docs, f"no policy for {name}"
    return docs


class Judge:
    """Decides requests against the lake's generated bucket, key and secret policies."""

    def __init__(self, lake: Inventory):
        self.buckets = {
            p.inputs["bucket"]: json.loads(p.inputs["policy"])
            for p in lake.of_type("aws:s3/bucketPolicy:BucketPolicy")
        }
        self.key = json.loads(lake.named("aws:kms/key:Key", "storage-key").inputs["policy"])
        secret = lake.named("aws:secretsmanager/secretPolicy:SecretPolicy", "pii-hmac-key-policy")
        self.secret = json.loads(secret.inputs["policy"])

    def s3(self, who: str, identity: list[dict], action: str, bucket: str, key: str = "",
           **context: str) -> bool:  # fmt: skip
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
        return decide(Request(who, action, resource, context), identity, self.buckets[bucket])

    def kms(self, who: str, identity: list[dict], action: str, **context: str) -> bool:
        return decide(Request(who, action, KEY, context), identity, self.key)

    def secret_value(self, who: str, identity: list[dict]) -> bool:
        """GetSecretValue, and the decryption Secrets Manager makes for it as the caller."""
        get = decide(Request(who, "secretsmanager:GetSecretValue", SECRET), identity, self.secret)
        via = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
        return get and self.kms(who, identity, "kms:Decrypt", **via)

    def reads(self, who: str, identity: list[dict], bucket: str, key: str) -> bool:
        """GetObject, and the decryption S3 makes for it as the caller (SSE-KMS)."""
        via = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
        return self.s3(who, identity, "s3:GetObject", bucket, key) and self.kms(
            who, identity, "kms:Decrypt", **via
        )

    def writes(self, who: str, identity: list[dict], bucket: str, key: str) -> bool:
        via = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
        return self.s3(who, identity, "s3:PutObject", bucket, key) and self.kms(
            who, identity, "kms:GenerateDataKey", **via
        )


@pytest.fixture(scope="module")
def judge(lake: Inventory) -> Judge:
    return Judge(lake)


SEALED = [
    (LANDING, "raw/profile/2026/profiles.csv.gz"),
    (LAKE, "bronze/profile/year=2026/month=01/day=01/p-abc.parquet"),
    (LAKE, "silver/profile/data/part-0.parquet"),
    (LAKE, "quarantine/profile/year=2026/month=01/day=01/p-abc.jsonl.gz"),
    (LAKE, "pii-verdicts/profile/v1/email.json"),
    (LANDING, "stream-errors/partitioning-failed/2026/12/01/10/datalake-prod-cdc-delivery-1-x"),
]


# --- outsiders -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", [POWER_USER, DEPLOYER_ROLE_ARN, role_arn("gold-consumer")])
def test_a_broadly_privileged_outsider_reads_nothing_sealed(judge, who):
    for bucket, key in SEALED:
        assert not judge.reads(who, [EVERYTHING], bucket, key), (who, key)
        assert not judge.s3(who, [EVERYTHING], "s3:DeleteObject", bucket, key), (who, key)
        assert not judge.s3(who, [EVERYTHING], "s3:GetObjectVersion", bucket, key), (who, key)
    for bucket, key in SEALED[1:]:
        assert not judge.writes(who, [EVERYTHING], bucket, key), (who, key)
    # The key itself only through the lake's services: no direct decryption of a copied blob.
    assert not judge.kms(who, [EVERYTHING], "kms:Decrypt")
    assert not judge.kms(who, [EVERYTHING], "kms:GenerateDataKey")
    own_grant = {"kms:GrantIsForAWSResource": "false"}
    assert not judge.kms(who, [EVERYTHING], "kms:CreateGrant", **own_grant)


@pytest.mark.parametrize("who", [POWER_USER, role_arn("gold-consumer"), DEMO_USER])
def test_an_outsider_cannot_read_the_hmac_key(judge, who):
    assert not judge.secret_value(who, [EVERYTHING])
    put = Request(who, "secretsmanager:PutSecretValue", SECRET)
    assert not decide(put, [EVERYTHING], judge.secret)


def test_outsiders_list_only_gold_of_the_lake_and_the_stream_errors_of_the_landing(judge):
    for prefix in (None, "", "b", "bronze/", "silver/profile/", "raw/", "pii-verdicts/", "s"):
        context = {} if prefix is None else {"s3:prefix": prefix}
        assert not judge.s3(POWER_USER, [EVERYTHING], "s3:ListBucket", LAKE, **context), prefix
        assert not judge.s3(POWER_USER, [EVERYTHING], "s3:ListBucket", LANDING, **context), prefix
    assert judge.s3(POWER_USER, [EVERYTHING], "s3:ListBucket", LAKE, **{"s3:prefix": "gold/"})
    # Firehose's error object names (stream, time, uuid): `datalake status` counts them.
    errors = {"s3:prefix": "stream-errors/partitioning-failed/"}
    assert judge.s3(POWER_USER, [EVERYTHING], "s3:ListBucket", LANDING, **errors)


def test_producers_still_upload_raw_files_and_the_rest_is_untouched(judge):
    raw = "raw/reviews/reviews-0001.csv.gz"
    assert judge.writes(POWER_USER, [EVERYTHING], LANDING, raw)
    assert not judge.s3(POWER_USER, [EVERYTHING], "s3:PutObjectTagging", LANDING, raw)
    # Uploads without an encryption header get the bucket default; a wrong header is refused.
    sse, key_id = (
        "s3:x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    )
    for headers in ({sse: "AES256"}, {sse: "aws:kms", key_id: KEY.replace("storage", "other")}):
        assert not judge.s3(POWER_USER, [EVERYTHING], "s3:PutObject", LANDING, raw, **headers)
    assert judge.s3(
        POWER_USER, [EVERYTHING], "s3:PutObject", LANDING, raw, **{sse: "aws:kms", key_id: KEY}
    )
    # Gold, artifacts and the observer stay under IAM (and Lake Formation) alone.
    assert judge.reads(POWER_USER, [EVERYTHING], LAKE, "gold/top_beers/data/part-0.parquet")
    assert judge.writes(DEPLOYER_ROLE_ARN, [EVERYTHING], ARTIFACTS, "silver/jobs/abc/job.zip")
    assert judge.reads(POWER_USER, [EVERYTHING], OBSERVER, "athena-results/q.csv")
    for service in ("dynamodb", "states", "sqs", "ecr"):
        via = {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}
        assert judge.kms(POWER_USER, [EVERYTHING], "kms:Decrypt", **via), service
    # Key administration stays with IAM: nothing denies it (the KMS lockout rule).
    for action in ("kms:PutKeyPolicy", "kms:DescribeKey", "kms:ScheduleKeyDeletion"):
        assert judge.kms(POWER_USER, [EVERYTHING], action), action


# --- insiders ------------------------------------------------------------------------------


BRONZE_KEY = "bronze/profile/year=2026/month=01/day=01/p-abc.parquet"


@pytest.mark.parametrize("purpose", ["bronze-ingest-lite", "bronze-ingest-mass-task"])
def test_the_bronze_workers_read_raw_write_bronze_and_read_the_key(lake, judge, purpose):
    who, identity = role_arn(purpose), identity_of(lake, purpose)
    assert judge.reads(who, identity, LANDING, "raw/profile/profiles.csv.gz")
    assert judge.writes(who, identity, LAKE, BRONZE_KEY)
    assert judge.writes(who, identity, LAKE, "quarantine/profile/x.jsonl.gz")
    assert judge.reads(who, identity, LAKE, "pii-verdicts/profile/v1/email.json")
    assert judge.writes(who, identity, LAKE, "pii-verdicts/profile/v1/email.json")
    assert judge.secret_value(who, identity)
    # Their own policy still keeps them out of silver.
    assert not judge.reads(who, identity, LAKE, "silver/profile/data/part-0.parquet")


def test_the_controller_reads_raw_but_not_the_hmac_key(lake, judge):
    who, identity = role_arn("processing-controller"), identity_of(lake, "processing-controller")
    assert judge.reads(who, identity, LANDING, "raw/profile/profiles.csv.gz")
    assert not judge.secret_value(who, [EVERYTHING])  # not a reader, whatever its policy


def test_the_spark_jobs_and_lake_formation_read_and_write_their_layers(lake, judge):
    silver, silver_ids = role_arn("silver-spark-job"), identity_of(lake, "silver-spark-job")
    assert judge.reads(silver, silver_ids, LAKE, BRONZE_KEY)
    assert judge.writes(silver, silver_ids, LAKE, "silver/profile/data/part-1.parquet")
    assert judge.s3(silver, silver_ids, "s3:ListBucket", LAKE, **{"s3:prefix": "bronze/"})
    gold, gold_ids = role_arn("gold-spark-job"), identity_of(lake, "gold-spark-job")
    assert judge.reads(gold, gold_ids, LAKE, "silver/profile/data/part-0.parquet")
    assert judge.writes(gold, gold_ids, LAKE, "gold/top_beers/data/part-1.parquet")
    registration = "lakeformation-registration"
    lf, lf_ids = role_arn(registration), identity_of(lake, registration)
    for key in (BRONZE_KEY, "silver/t/data/p.parquet", "gold/t/data/p.parquet"):
        assert judge.reads(lf, lf_ids, LAKE, key), key
    assert judge.s3(lf, lf_ids, "s3:ListBucket", LAKE, **{"s3:prefix": "silver/"})


def test_the_consumers_read_gold_results_through_athena(lake, judge):
    for who in (role_arn("gold-consumer"), DEMO_USER):
        identity = identity_of(lake, "gold-consumer")
        assert judge.reads(who, identity, OBSERVER, "athena-results/q-1.csv"), who
        assert judge.writes(who, identity, OBSERVER, "athena-results/q-2.csv"), who


def test_the_start_roles_encrypt_executions_through_step_functions(lake, judge):
    who = role_arn("silver-pipeline-start")
    identity = identity_of(lake, "silver-pipeline-start")
    statements = [s for d in identity for s in d["Statement"]]
    (machine,) = {s["Resource"] for s in statements if s["Sid"] == "StartExecution"}
    context = {
        "kms:ViaService": f"states.{REGION}.amazonaws.com",
        "kms:EncryptionContext:aws:states:stateMachineArn": machine,
    }
    assert judge.kms(who, identity, "kms:GenerateDataKey", **context)
    assert judge.kms(POWER_USER, [EVERYTHING], "kms:GenerateDataKey", **context)  # process


def test_rotation_deployer_and_break_glass_read_the_key(lake, judge):
    rotation = "pii-key-rotation"
    assert lake.named("aws:iam/role:Role", "pii-rotation-role").inputs["name"].endswith(rotation)
    assert judge.secret_value(role_arn(rotation), identity_of(lake, rotation))
    # Pulumi reads the secret version back as the deployer.
    assert judge.secret_value(DEPLOYER_ROLE_ARN, [EVERYTHING])
    assert not judge.reads(DEPLOYER_ROLE_ARN, [EVERYTHING], *SEALED[0])
    for bucket, key in SEALED:
        assert judge.reads(BREAK_GLASS, [EVERYTHING], bucket, key), key
    assert judge.kms(BREAK_GLASS, [EVERYTHING], "kms:Decrypt")


def test_break_glass_reads_the_hmac_key_when_the_masker_is_given_it():
    from components.perimeter import Perimeter

    perimeter = Perimeter("aws", ACCOUNT_ID, REGION, "datalake-prod", (BREAK_GLASS,), "")
    policy = hmac_secret_policy(perimeter)
    get = "secretsmanager:GetSecretValue"
    assert decide(Request(BREAK_GLASS, get, SECRET), [EVERYTHING], policy)
    assert not decide(Request(POWER_USER, get, SECRET), [EVERYTHING], policy)


def test_the_hmac_key_readers_are_the_roles_with_the_worker_policy(lake):
    attached = {
        a.inputs["role"].removeprefix("datalake-prod-")
        for a in lake.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["policyArn"].endswith("pii-workers")
    }
    assert attached | {"pii-key-rotation"} == set(HMAC_KEY_READERS)


# --- the CDC stream ------------------------------------------------------------------------

STREAM = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/datalake-prod-cdc-stream"
VIA_KINESIS = {
    "kms:ViaService": f"kinesis.{REGION}.amazonaws.com",
    "kms:EncryptionContext:aws:kinesis:arn": STREAM,
}


@pytest.mark.parametrize("who", [POWER_USER, DEPLOYER_ROLE_ARN, role_arn("gold-consumer")])
def test_outsiders_may_put_stream_records_but_never_read_them(judge, who):
    # Producers without DMS put DMS-shaped records (a data key through Kinesis)...
    assert judge.kms(who, [EVERYTHING], "kms:GenerateDataKey", **VIA_KINESIS)
    # ...but no principal outside the lake decrypts a record: the stream is an inbox like raw/.
    assert not judge.kms(who, [EVERYTHING], "kms:Decrypt", **VIA_KINESIS)


def test_the_delivery_reads_the_stream_and_writes_raw_changes_and_errors(lake, judge):
    who, identity = role_arn("cdc-delivery"), identity_of(lake, "cdc-delivery")
    assert judge.kms(who, identity, "kms:Decrypt", **VIA_KINESIS)
    bucket_key = {
        "kms:ViaService": f"s3.{REGION}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{LANDING}",
    }
    for key in ("raw/review/cdc/2026/12/01/10/d-1-x.jsonl.gz", SEALED[-1][1]):
        assert judge.s3(who, identity, "s3:PutObject", LANDING, key), key
        assert judge.kms(who, identity, "kms:GenerateDataKey", **bucket_key), key
    assert not judge.s3(who, identity, "s3:PutObject", LAKE, BRONZE_KEY)
    assert not judge.reads(who, identity, LANDING, "raw/review/cdc/2026/12/01/10/d-1-x.jsonl.gz")


def test_dms_puts_records_and_the_deployer_creates_dms_resources_on_the_key(lake, judge):
    who, identity = role_arn("cdc-dms-target"), identity_of(lake, "cdc-dms-target")
    assert judge.kms(who, identity, "kms:GenerateDataKey", **VIA_KINESIS)
    assert not judge.kms(who, identity, "kms:Decrypt", **VIA_KINESIS)
    via_dms = {"kms:ViaService": f"dms.{REGION}.amazonaws.com"}
    assert judge.kms(DEPLOYER_ROLE_ARN, [EVERYTHING], "kms:GenerateDataKey", **via_dms)


# --- services ------------------------------------------------------------------------------


def test_services_deliver_logs_and_dead_letters_with_the_key(judge):
    own = {"aws:SourceAccount": ACCOUNT_ID}
    log_group = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/vendedlogs/states/x"
    vended = {**own, "aws:SourceArn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:delivery-source:x"}
    assert judge.kms("delivery.logs.amazonaws.com", [], "kms:GenerateDataKey", **vended)
    assert judge.kms("delivery.logs.amazonaws.com", [], "kms:Decrypt", **vended)
    other = {**vended, "aws:SourceAccount": "999999999999"}
    assert not judge.kms("delivery.logs.amazonaws.com", [], "kms:GenerateDataKey", **other)
    logs = {"kms:EncryptionContext:aws:logs:arn": log_group}
    assert judge.kms(f"logs.{REGION}.amazonaws.com", [], "kms:Encrypt", **logs)
    assert judge.kms("logging.s3.amazonaws.com", [], "kms:GenerateDataKey", **own)
    sqs = {**own, "kms:ViaService": f"sqs.{REGION}.amazonaws.com"}
    assert judge.kms("events.amazonaws.com", [], "kms:GenerateDataKey", **sqs)
    for_a_service = {"kms:GrantIsForAWSResource": "true"}
    assert judge.kms(POWER_USER, [EVERYTHING], "kms:CreateGrant", **for_a_service)


def test_the_lakes_alarms_and_the_accounts_budgets_encrypt_for_the_alarm_topic_only(judge):
    own = {"aws:SourceAccount": ACCOUNT_ID}
    alarm = {
        **own,
        "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:datalake-prod-x",
    }
    budget = {**own, "aws:SourceArn": f"arn:aws:budgets::{ACCOUNT_ID}:budget/datalake-prod-cost"}
    for service, source in (("cloudwatch.amazonaws.com", alarm), ("budgets.amazonaws.com", budget)):
        assert judge.kms(service, [], "kms:GenerateDataKey", **source), service
        assert judge.kms(service, [], "kms:Decrypt", **source), service
        assert not judge.kms(service, [], "kms:ReEncryptFrom", **source), service
        # Another account's alarm or budget (the confused deputy), or no source at all.
        other = {**source, "aws:SourceAccount": "999999999999"}
        assert not judge.kms(service, [], "kms:GenerateDataKey", **other), service
        assert not judge.kms(service, [], "kms:GenerateDataKey"), service
    someone_elses = {**own, "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:x"}
    assert not judge.kms("cloudwatch.amazonaws.com", [], "kms:GenerateDataKey", **someone_elses)


def test_the_dev_stack_names_its_own_roles(dev_resources):
    (key,) = Inventory(dev_resources).of_type("aws:kms/key:Key")
    text = key.inputs["policy"]
    assert f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-dev-*" in text
    assert "datalake-prod" not in text


# --- the evaluator itself ------------------------------------------------------------------


def test_the_evaluator_agrees_with_moto_where_moto_can_judge(lake):
    """On condition-free identity statements, :func:`decide` and moto's evaluator agree."""
    cases = [
        ("silver-spark-job", "s3:GetObject", f"arn:aws:s3:::{LAKE}/bronze/t/x"),
        ("silver-spark-job", "s3:GetObject", f"arn:aws:s3:::{LAKE}/gold/t/x"),
        ("silver-spark-job", "s3:PutObject", f"arn:aws:s3:::{LAKE}/silver/t/x"),
        ("bronze-ingest-lite", "s3:GetObject", f"arn:aws:s3:::{LANDING}/raw/t/x"),
        ("bronze-ingest-lite", "s3:PutObject", f"arn:aws:s3:::{LAKE}/silver/t/x"),
        ("bronze-ingest-lite", "secretsmanager:GetSecretValue", SECRET),
        ("gold-consumer", "s3:GetObject", f"arn:aws:s3:::{OBSERVER}/athena-results/q"),
        ("gold-consumer", "s3:GetObject", f"arn:aws:s3:::{LAKE}/gold/t/x"),
    ]
    empty: dict[str, Any] = {"Version": "2012-10-17", "Statement": []}
    for purpose, action, resource in cases:
        docs = identity_of(lake, purpose)
        free = [
            {**d, "Statement": [s for s in d["Statement"] if "Condition" not in s]} for d in docs
        ]
        moto = any(
            IAMPolicy(json.dumps(d)).is_action_permitted(action, resource)
            is PermissionResult.PERMITTED
            for d in free
        )
        ours = decide(Request(role_arn(purpose), action, resource), free, empty)
        assert ours is moto, (purpose, action, resource)
    assert any(decide(Request(role_arn(p), a, r), identity_of(lake, p), empty) for p, a, r in cases)


def test_negated_operators_hold_when_the_key_is_absent():
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"kms:ViaService": ["s3.x.amazonaws.com"]}},
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
        ],
    }
    direct = Request(POWER_USER, "kms:Decrypt", KEY)
    via_s3 = Request(POWER_USER, "kms:Decrypt", KEY, {"kms:ViaService": "s3.x.amazonaws.com"})
    assert not decide(direct, [EVERYTHING], deny)
    assert decide(via_s3, [EVERYTHING], deny)
    assert not decide(via_s3, [], deny)  # the root statement delegates to IAM, nothing more
