"""The local lake's names, without Pulumi: what ``datalake local run`` (``--serve``) and
``datalake local up`` create on the emulator, as the stack outputs the operating commands read.

The local lake has no stack to ask: its names come from the settings of the ``local``
environment and :class:`~datalake.naming.LakeNames`, the same code that names the deployed
lake's resources and that ``workloads/local/resources.py`` creates them with
(:func:`lake_buckets`), so ``datalake status --endpoint-url URL`` finds them with no
``--outputs`` file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datalake.naming import Bucket, LakeNames
from datalake.settings import LakeSettings, SettingsError, load_settings
from datalake.stack_outputs import LakeOutputs, OperationsError

LOCAL_PROJECT = "datalake"
LOCAL_ENVIRONMENT = "local"
LOCAL_REGION = "us-east-1"
"""The local lake's region unless told otherwise (``--region``)."""
STATE_MACHINES = {
    "silver_state_machine_arn": "silver-pipeline",
    "gold_state_machine_arn": "gold-marts",
    "bronze_ingestion_state_machine_arn": "bronze-ingestion",
}
"""The stack outputs naming state machines, and the purposes the components name them by."""


def local_settings(
    region: str = LOCAL_REGION, overrides: Mapping[str, Any] | None = None
) -> LakeSettings:
    """The settings of the ``local`` environment (the same model as every stack);
    ``overrides`` are ``datalake:lake`` keys, as in a stack file."""
    config = {**(overrides or {}), "region": region}
    return load_settings(config, project=LOCAL_PROJECT, environment=LOCAL_ENVIRONMENT)


def lake_buckets(names: LakeNames) -> dict[Bucket, str]:
    """Every bucket of the lake, by purpose."""
    return {purpose: names.bucket(purpose) for purpose in Bucket}


def local_outputs(settings: LakeSettings, account: str) -> LakeOutputs:
    """The stack outputs of the lake ``settings`` name, in ``account`` (the emulator's).

    The state machines' ARNs are those the components would give them in ``account``; a
    command that starts one needs the emulator to hold a machine of that name.
    """
    names = settings.names
    buckets = lake_buckets(names)
    return LakeOutputs(
        landing_bucket=buckets[Bucket.LANDING],
        lake_bucket=buckets[Bucket.LAKE],
        artifacts_bucket=buckets[Bucket.ARTIFACTS],
        control_table_name=names.control_table,
        region=settings.region,
        **{
            output: names.arn("states", account, f"stateMachine:{names.resource(purpose)}")
            for output, purpose in STATE_MACHINES.items()
        },
    )


def local_lake_outputs(region: str | None, account: str) -> LakeOutputs:
    """:func:`local_outputs` of the local environment in ``region`` (default
    :data:`LOCAL_REGION`); an invalid region is an :class:`OperationsError`."""
    try:
        settings = local_settings(region or LOCAL_REGION)
    except SettingsError as error:
        raise OperationsError(f"the local lake's settings: {error}") from None
    return local_outputs(settings, account)
