"""``datalake verify``: after a deploy, read the account and check what mocks cannot.

- the caller and the deployer are Lake Formation admins;
- no ``IAM_ALLOWED_PRINCIPALS`` grant on the lake's databases (nor in their or the account's
  default permissions for new tables);
- every lake bucket: SSE-KMS with the lake key and bucket keys, all four public access block
  flags, a bucket policy that denies requests without TLS;
- every state machine start role can ``kms:Decrypt`` and ``kms:GenerateDataKey`` on the key of
  each state machine it may start (IAM policy simulation, with the Step Functions encryption
  context).

Names come from the stack outputs (``pulumi stack output --json``); the clients from any
object with ``client(service)`` (:class:`datalake.operations.Aws`). boto3 only, no Pulumi.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from datalake.verify_buckets import (
    check_bucket,
    resolve_key_arn,
)

IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"
STATE_MACHINE_CONTEXT_KEY = "kms:EncryptionContext:aws:states:stateMachineArn"
START_ROLES_OUTPUT = "state_machine_start_role_arns"
"""Stack output listing the roles that start state machines (schedules, rules, pipes)."""
_ASSUMED_ROLE = re.compile(
    r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d+):assumed-role/(?P<role>[^/]+)/"
)


class Clients(Protocol):
    """Anything that hands out boto3 clients (``datalake.operations.Aws``)."""

    def client(self, service: str) -> Any:
        """A boto3 client for ``service``."""


@dataclass(frozen=True)
class Check:
    """One verified property of the deployment."""

    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    """Every check, in the order run; ``exit_code`` is 1 when any failed."""

    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        """Record one check."""
        self.checks.append(Check(name, ok, detail))

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.failures

    @property
    def exit_code(self) -> int:
        """0 when every check passed, else 1."""
        return 0 if self.ok else 1

    def render(self) -> str:
        """One line per check (``PASS``/``FAIL name: detail``) and a summary line."""
        lines = [f"{'PASS' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]
        lines.append(f"{len(self.checks) - len(self.failures)} passed, {len(self.failures)} failed")
        return "\n".join(lines)


@dataclass(frozen=True)
class VerifyTargets:
    """What to verify, read from the stack outputs."""

    kms_key_arn: str
    buckets: list[str]
    databases: list[str]
    state_machine_arns: list[str]
    start_role_arns: list[str]

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> VerifyTargets:
        """``kms_key_arn``, every ``*_bucket``, ``*_database`` and ``*_state_machine_arn``
        output, and the ``state_machine_start_role_arns`` list (or mapping) if exported."""
        roles = outputs.get(START_ROLES_OUTPUT) or []
        roles = list(roles.values()) if isinstance(roles, Mapping) else list(roles)
        return cls(
            kms_key_arn=str(outputs.get("kms_key_arn") or ""),
            buckets=[str(v) for k, v in sorted(outputs.items()) if k.endswith("_bucket") and v],
            databases=[str(v) for k, v in sorted(outputs.items()) if k.endswith("_database") and v],
            state_machine_arns=[
                str(v) for k, v in sorted(outputs.items()) if k.endswith("_state_machine_arn") and v
            ],
            start_role_arns=[str(r) for r in roles],
        )


def verify_main(
    outputs: Mapping[str, Any],
    *,
    clients: Clients,
    deployer_arn: str | None,
    start_role_arns: Sequence[str] | None = None,
    iam_compatible: bool = False,
) -> VerifyReport:
    """Run every check against the account ``clients`` reach; see the module docstring.

    ``start_role_arns`` overrides the ``state_machine_start_role_arns`` output;
    ``iam_compatible`` (governance.permission_mode) accepts ``IAM_ALLOWED_PRINCIPALS``.
    """
    targets = VerifyTargets.from_outputs(outputs)
    if start_role_arns is not None:
        targets = VerifyTargets(
            targets.kms_key_arn,
            targets.buckets,
            targets.databases,
            targets.state_machine_arns,
            list(start_role_arns),
        )
    report = VerifyReport()
    lake_formation = clients.client("lakeformation")
    settings = lake_formation.get_data_lake_settings()["DataLakeSettings"]
    check_admins(report, settings, caller_role_arn(clients), deployer_arn)
    if not iam_compatible:
        check_no_iam_allowed_principals(
            report, settings, lake_formation, clients.client("glue"), targets.databases
        )
    s3 = clients.client("s3")
    key_arn = resolve_key_arn(clients.client("kms"), targets.kms_key_arn)
    for bucket in targets.buckets:
        check_bucket(report, s3, bucket, key_arn)
    check_start_roles(report, clients, targets)
    return report


# --- Lake Formation ------------------------------------------------------------------------


def caller_role_arn(clients: Clients) -> str:
    """The caller's IAM principal ARN: an assumed-role session becomes its role's ARN (with
    its path, when ``iam:GetRole`` is allowed), as Lake Formation lists admins."""
    arn = str(clients.client("sts").get_caller_identity()["Arn"])
    found = _ASSUMED_ROLE.match(arn)
    if not found:
        return arn
    try:
        return str(clients.client("iam").get_role(RoleName=found["role"])["Role"]["Arn"])
    except ClientError:
        return f"arn:{found['partition']}:iam::{found['account']}:role/{found['role']}"


def check_admins(
    report: VerifyReport, settings: Mapping[str, Any], caller: str, deployer: str | None
) -> None:
    """The caller and the deployer are among the data-lake admins."""
    admins = {a.get("DataLakePrincipalIdentifier") for a in settings.get("DataLakeAdmins", [])}
    for label, principal in (("caller", caller), ("deployer", deployer)):
        if principal is None:
            report.add(f"lake-formation-admin:{label}", False, "no deployer ARN given (--deployer)")
            continue
        report.add(
            f"lake-formation-admin:{label}",
            principal in admins,
            f"{principal} {'is' if principal in admins else 'is NOT'} a data-lake admin "
            f"(admins: {sorted(a for a in admins if a)})",
        )


def _iam_allowed(entries: Iterable[Mapping[str, Any]]) -> bool:
    return any(
        e.get("Principal", {}).get("DataLakePrincipalIdentifier") == IAM_ALLOWED_PRINCIPALS
        for e in entries
    )


def _all_permissions(lake_formation: Any, resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = lake_formation.list_permissions(
            Resource=dict(resource), **({"NextToken": token} if token else {})
        )
        found += page.get("PrincipalResourcePermissions", [])
        token = page.get("NextToken")
        if not token:
            return found


def check_no_iam_allowed_principals(
    report: VerifyReport,
    settings: Mapping[str, Any],
    lake_formation: Any,
    glue: Any,
    databases: Sequence[str],
) -> None:
    """No ``IAM_ALLOWED_PRINCIPALS`` in the account defaults, the databases' grants (database
    and all tables) or their default permissions for new tables."""
    defaults = [
        *settings.get("CreateDatabaseDefaultPermissions", []),
        *settings.get("CreateTableDefaultPermissions", []),
    ]
    report.add(
        "lake-formation-defaults",
        not _iam_allowed(defaults),
        "account default permissions for new databases/tables "
        + ("grant IAM_ALLOWED_PRINCIPALS" if _iam_allowed(defaults) else "are Lake Formation only"),
    )
    for database in databases:
        grants = _all_permissions(lake_formation, {"Database": {"Name": database}})
        grants += _all_permissions(
            lake_formation, {"Table": {"DatabaseName": database, "TableWildcard": {}}}
        )
        table_defaults = glue.get_database(Name=database)["Database"].get(
            "CreateTableDefaultPermissions", []
        )
        where = [
            name
            for name, entries in (
                ("grants", grants),
                ("CreateTableDefaultPermissions", table_defaults),
            )
            if _iam_allowed(entries)
        ]
        report.add(
            f"no-iam-allowed-principals:{database}",
            not where,
            f"IAM_ALLOWED_PRINCIPALS in {' and '.join(where)}" if where else "Lake Formation only",
        )


# --- buckets -------------------------------------------------------------------------------


def simulate(
    iam: Any, role_arn: str, action: str, resource: str, context: Mapping[str, str] | None = None
) -> bool:
    """Whether IAM policy simulation allows ``role_arn`` ``action`` on ``resource``."""
    entries = [
        {"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"}
        for k, v in (context or {}).items()
    ]
    result = iam.simulate_principal_policy(
        PolicySourceArn=role_arn,
        ActionNames=[action],
        ResourceArns=[resource],
        **({"ContextEntries": entries} if entries else {}),
    )
    return all(r.get("EvalDecision") == "allowed" for r in result["EvaluationResults"]) and bool(
        result["EvaluationResults"]
    )


def state_machine_key(sfn: Any, kms: Any, machine_arn: str, fallback: str) -> str | None:
    """The ARN of the customer key a state machine is encrypted with (``None``: AWS-owned)."""
    described = sfn.describe_state_machine(stateMachineArn=machine_arn)
    encryption = described.get("encryptionConfiguration") or {}
    if encryption.get("type", "AWS_OWNED_KEY") != "CUSTOMER_MANAGED_KMS_KEY":
        return None
    return resolve_key_arn(kms, str(encryption.get("kmsKeyId") or fallback))


def check_start_roles(report: VerifyReport, clients: Clients, targets: VerifyTargets) -> None:
    """Each start role can decrypt and generate data keys on the key of every state machine it
    may start, in that machine's encryption context."""
    if not targets.start_role_arns:
        report.add(
            "start-roles",
            False,
            f"no start roles known: export {START_ROLES_OUTPUT} or pass them (--start-role)",
        )
        return
    iam, sfn, kms = clients.client("iam"), clients.client("stepfunctions"), clients.client("kms")
    keys = {
        arn: state_machine_key(sfn, kms, arn, targets.kms_key_arn)
        for arn in targets.state_machine_arns
    }
    for role in targets.start_role_arns:
        started = [
            m for m in targets.state_machine_arns if simulate(iam, role, "states:StartExecution", m)
        ]
        if not started:
            report.add(f"start-role:{role}", False, "may start none of the lake's state machines")
        for machine in started:
            key = keys[machine]
            if key is None:
                report.add(f"start-role:{role}", True, f"{machine} uses an AWS-owned key")
                continue
            missing = _missing_key_actions(iam, role, machine, key, simulate)
            report.add(
                f"start-role:{role}",
                not missing,
                f"starts {machine}; "
                + (f"cannot {' or '.join(missing)} on {key}" if missing else f"can use {key}"),
            )


def _missing_key_actions(
    iam: Any, role: str, machine: str, key: str, simulate_call: Callable[..., bool]
) -> list[str]:
    region = machine.split(":")[3] if machine.count(":") >= 3 else ""
    context = {
        STATE_MACHINE_CONTEXT_KEY: machine,
        "kms:ViaService": f"states.{region}.amazonaws.com",
    }
    return [
        action
        for action in ("kms:Decrypt", "kms:GenerateDataKey")
        if not simulate_call(iam, role, action, key, context)
    ]
