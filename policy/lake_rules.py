"""The lake's own rules: IAM scoping, protection, Lake Formation admins, the lake key.

The deployer of ``lake-formation-keeps-deployer-admin`` comes from the pack's config
(``deployer_arns``): a policy pack cannot call ``aws.getCallerIdentity``, and in CI the role
that previews is not the one that deploys. Pass it with
``--policy-pack-config policy/config.<stack>.json`` (``{"lake-formation-keeps-deployer-admin":
{"deployer_arns": ["arn:aws:iam::<account>:role/<deployer>"]}}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policy import iam
from policy.model import (
    BUCKET_TYPES,
    DEV_ENVIRONMENTS,
    GLUE_DATABASE,
    GROUP_POLICY,
    KMS_KEY,
    LF_RESOURCE,
    LF_SETTINGS,
    LF_TAG,
    LOG_GROUP,
    MANAGED_POLICY,
    QUEUE,
    ROLE,
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    SECRET,
    STATE_MACHINE,
    TABLE,
    USER_POLICY,
    Finding,
    LakeResource,
    Stack,
    as_list,
    identifiers,
)
from policy.rule import ResourceRule, StackRule

STATEFUL_TYPES = (
    *BUCKET_TYPES,
    KMS_KEY,
    TABLE,
    GLUE_DATABASE,
    LF_SETTINGS,
    LF_TAG,
    LF_RESOURCE,
    SECRET,
)
"""Resources whose deletion loses data or access: protected outside dev."""
START_SERVICES = ("scheduler.amazonaws.com", "events.amazonaws.com", "pipes.amazonaws.com")
"""Services whose roles start state machines (schedules, rules, pipes)."""
STATE_MACHINE_CONTEXT_KEY = "kms:EncryptionContext:aws:states:stateMachineArn"
LOG_DELIVERY_SERVICE = "delivery.logs.amazonaws.com"
POLICY_TYPES = (ROLE_POLICY, MANAGED_POLICY, USER_POLICY, GROUP_POLICY, ROLE)


# --- IAM -----------------------------------------------------------------------------------


def policy_documents(resource: LakeResource) -> list[dict[str, Any]]:
    """The identity-policy documents a policy resource (or a role's inline policies) holds."""
    if resource.type == ROLE:
        return [iam.document(p.get("policy")) for p in as_list(resource.get("inlinePolicies"))]
    return [iam.document(resource.get("policy"))]


def _no_wildcard_bucket_resource(resource: LakeResource, _config: Mapping[str, Any]) -> list[str]:
    out = []
    for doc in policy_documents(resource):
        for statement in iam.statements(doc):
            if not statement.allows or "*" not in statement.resources:
                continue
            if statement.not_actions:  # NotAction + Resource '*' grants S3 unless it names it
                broad = [f"NotAction {statement.not_actions}"]
                broad = broad if statement.matches_action("s3:GetObject") else []
            else:
                broad = [a for a in statement.actions if iam.is_bucket_action(a)]
            if broad:
                out.append(
                    f"{resource.name}: statement {statement.sid} allows {', '.join(broad)} on "
                    "Resource '*'; name the bucket and prefix ARNs it needs instead"
                )
    return out


# --- protection ----------------------------------------------------------------------------


def _protected_outside_dev(resource: LakeResource, config: Mapping[str, Any]) -> list[str]:
    environment = resource.environment(config)
    dev = set(config.get("dev_environments") or DEV_ENVIRONMENTS)
    if environment in dev or resource.protect:
        return []
    return [
        f"{resource.name} ({resource.type.rsplit(':', 1)[-1]}): set protect=True (and "
        f"retain_on_delete=True) in environment {environment or '<unknown>'}: deleting or "
        "replacing it loses data or the account's Lake Formation state"
    ]


# --- Lake Formation ------------------------------------------------------------------------


def _deployer_is_admin(settings: LakeResource, config: Mapping[str, Any]) -> list[str]:
    deployers = [str(a) for a in as_list(config.get("deployer_arns"))]
    if not deployers:
        return [
            f"{settings.name}: the pack does not know the deployer: set deployer_arns in the "
            "policy pack config of lake-formation-keeps-deployer-admin "
            "(--policy-pack-config policy/config.<stack>.json)"
        ]
    admins = {str(a) for a in as_list(settings.get("admins"))}
    missing = [d for d in deployers if d not in admins]
    if not missing:
        return []
    return [
        f"{settings.name}: admins {sorted(admins)} drop the deployer {', '.join(missing)}: "
        "PutDataLakeSettings replaces the account's admin list, and the rest of the deploy "
        "(LF-Tags, grants, registered tables) needs admin rights; add it to governance.admins"
    ]


# --- the lake key --------------------------------------------------------------------------


def _on_lake_key(stack: Stack, _config: Mapping[str, Any]) -> list[Finding]:
    keys = stack.lake_key_identifiers()
    out = []
    for resource in stack.of_type(LOG_GROUP, QUEUE):
        prop = "kmsKeyId" if resource.type == LOG_GROUP else "kmsMasterKeyId"
        if resource.get(prop) in keys:
            continue
        kind = "log group" if resource.type == LOG_GROUP else "queue"
        out.append(
            Finding(
                f"{resource.name}: {kind} must be encrypted with the lake key: set "
                f"{'kms_key_id' if resource.type == LOG_GROUP else 'kms_master_key_id'}=<lake "
                f"key ARN> (now {resource.get(prop)!r})",
                resource.urn,
            )
        )
    return out


def _key_of(stack: Stack, reference: Any) -> LakeResource | None:
    return next(
        (k for k in stack.of_type(KMS_KEY) if reference in identifiers(k, "arn", "keyId", "id")),
        None,
    )


def role_documents(stack: Stack, role: LakeResource) -> list[dict[str, Any]]:
    """Every identity policy of ``role``: inline (both forms) and attached managed policies."""
    docs = policy_documents(role)
    docs += [iam.document(p.get("policy")) for p in stack.attached_to(role, ROLE_POLICY, "role")]
    attached = {
        str(a.get("policyArn")) for a in stack.attached_to(role, ROLE_POLICY_ATTACHMENT, "role")
    }
    attached |= {str(a) for a in as_list(role.get("managedPolicyArns"))}
    docs += [
        iam.document(p.get("policy"))
        for p in stack.of_type(MANAGED_POLICY)
        if identifiers(p, "arn") & attached
    ]
    return docs


def trusted_services(role: LakeResource) -> set[str]:
    """The service principals a role's trust policy names."""
    services: set[str] = set()
    for statement in iam.statements(iam.document(role.get("assumeRolePolicy"))):
        if statement.allows and isinstance(statement.principal, Mapping):
            services |= {str(s) for s in as_list(statement.principal.get("Service"))}
    return services


def _start_roles_decrypt(stack: Stack, _config: Mapping[str, Any]) -> list[Finding]:
    out = []
    machines = [m for m in stack.of_type(STATE_MACHINE) if m.get("arn")]
    for role in stack.of_type(ROLE):
        if not trusted_services(role) & set(START_SERVICES):
            continue
        docs = role_documents(stack, role)
        for machine in machines:
            arn = str(machine.get("arn"))
            encryption = machine.get("encryptionConfiguration") or {}
            if encryption.get("type") != "CUSTOMER_MANAGED_KMS_KEY":
                continue
            if not iam.grants(docs, "states:StartExecution", arn):
                continue
            key = _key_of(stack, encryption.get("kmsKeyId"))
            key_arn = str(key.get("arn") if key else encryption.get("kmsKeyId"))
            region = arn.split(":")[3] if arn.count(":") >= 3 else "*"
            context = {
                STATE_MACHINE_CONTEXT_KEY: arn,
                "kms:ViaService": f"states.{region}.amazonaws.com",
            }
            missing = [
                action
                for action in ("kms:Decrypt", "kms:GenerateDataKey")
                if not iam.grants(docs, action, key_arn, context)
            ]
            if missing:
                out.append(
                    Finding(
                        f"{role.name}: starts {machine.name}, which is encrypted with "
                        f"{key.name if key else key_arn}, but cannot {' or '.join(missing)} on "
                        f"that key: allow kms:Decrypt and kms:GenerateDataKey on the key ARN, "
                        f"conditioned on {STATE_MACHINE_CONTEXT_KEY} = the state machine ARN",
                        role.urn,
                    )
                )
    return out


def _log_delivery(stack: Stack, _config: Mapping[str, Any]) -> list[Finding]:
    log_groups = stack.of_type(LOG_GROUP)
    keys_in_use: dict[str, LakeResource] = {}
    for machine in stack.of_type(STATE_MACHINE):
        logging = machine.get("loggingConfiguration") or {}
        if not logging or logging.get("level") in (None, "OFF"):
            continue
        destination = str(logging.get("logDestination", "")).removesuffix(":*")
        for group in _log_groups_at(log_groups, destination):
            key = _key_of(stack, group.get("kmsKeyId"))
            if key is not None:
                keys_in_use[key.urn] = key
    out = []
    for key in keys_in_use.values():
        if not _allows_log_delivery(iam.document(key.get("policy"))):
            out.append(
                Finding(
                    f"{key.name}: state machines log to log groups encrypted with this key, so "
                    f"its key policy must allow Service {LOG_DELIVERY_SERVICE} "
                    "kms:GenerateDataKey* (and kms:Decrypt), conditioned on aws:SourceAccount",
                    key.urn,
                )
            )
    return out


def _log_groups_at(groups: Iterable[LakeResource], destination: str) -> list[LakeResource]:
    return [
        g
        for g in groups
        if destination in identifiers(g, "arn")
        or (g.get("name") and destination.endswith(f":{g.get('name')}"))
    ]


def _allows_log_delivery(doc: Mapping[str, Any]) -> bool:
    for statement in iam.statements(doc):
        principal = statement.principal if isinstance(statement.principal, Mapping) else {}
        services = {str(s) for s in as_list(principal.get("Service"))}
        scoped = any(
            k.lower() in ("aws:sourceaccount", "aws:sourcearn")
            for tests in statement.condition.values()
            for k in tests
        )
        if (
            statement.allows
            and LOG_DELIVERY_SERVICE in services
            and statement.matches_action("kms:GenerateDataKey")
            and scoped
        ):
            return True
    return False


DEPLOYER_SCHEMA: dict[str, dict[str, Any]] = {
    "deployer_arns": {"type": "array", "items": {"type": "string"}}
}
PROTECTION_SCHEMA: dict[str, dict[str, Any]] = {
    "environment": {"type": "string"},
    "dev_environments": {"type": "array", "items": {"type": "string"}},
}

RULES: list[ResourceRule | StackRule] = [
    ResourceRule(
        "lake-iam-no-wildcard-resource-on-bucket-actions",
        "No IAM policy allows an S3 bucket or object action on Resource '*'.",
        POLICY_TYPES,
        _no_wildcard_bucket_resource,
    ),
    ResourceRule(
        "lake-stateful-resources-protected",
        "Outside dev, buckets, the KMS key, the control table, Glue databases, the HMAC secret "
        "and the Lake Formation settings, LF-Tags and registered location are protected.",
        STATEFUL_TYPES,
        _protected_outside_dev,
        PROTECTION_SCHEMA,
    ),
    ResourceRule(
        "lake-formation-keeps-deployer-admin",
        "The Lake Formation settings keep the deploying principal among the data-lake admins.",
        (LF_SETTINGS,),
        _deployer_is_admin,
        DEPLOYER_SCHEMA,
    ),
    StackRule(
        "lake-log-groups-and-queues-on-lake-key",
        "Every CloudWatch log group and SQS queue is encrypted with the lake's KMS key.",
        _on_lake_key,
    ),
    StackRule(
        "lake-state-machine-start-roles-can-decrypt",
        "Roles that start a customer-key-encrypted state machine (schedules, rules, pipes) can "
        "kms:Decrypt and kms:GenerateDataKey on its key.",
        _start_roles_decrypt,
    ),
    StackRule(
        "lake-kms-key-policy-allows-log-delivery",
        "A key that encrypts state machine log groups lets delivery.logs.amazonaws.com use it.",
        _log_delivery,
    ),
]
