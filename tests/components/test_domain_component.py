"""The lake's domain in the program: read from ``datalake:lake.domain``, published by
LakeCatalog, carried by the foundation, and behind every bronze table and classification tag."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from components.preview import Registered, run_program, stack_config
from datalake.domain import Domain, default_domain_path, load_domain
from tests.components.inventory import FUNCTION, Inventory, run_stack

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = "datalake-dev-artifacts-eu-west-1"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
TICKETS = "examples/consumer-project/domain.yaml"


@pytest.fixture(scope="module")
def dev(dev_resources: list[Registered]) -> Inventory:
    return Inventory(dev_resources)


@pytest.fixture(scope="module")
def tickets() -> Inventory:
    """The repository's program deploying the consumer example's support-tickets domain."""
    config = stack_config("dev")
    config["datalake:lake"] = {**config["datalake:lake"], "domain": TICKETS}
    return run_stack(config)


def test_the_catalog_publishes_the_canonical_domain_under_the_lake_key(dev):
    beer = load_domain(default_domain_path())
    published = dev.named(OBJECT, "catalog-domain")
    assert published.inputs["bucket"] == ARTIFACTS
    assert published.inputs["key"] == f"domain/{beer.digest}.json"
    assert published.inputs["contentType"] == "application/json"
    assert published.inputs["serverSideEncryption"] == "aws:kms"
    assert published.inputs["kmsKeyId"].endswith(":key/key-storage-key")
    assert json.loads(published.inputs["content"]) == beer.to_document()
    assert Domain.from_document(json.loads(published.inputs["content"])).digest == beer.digest
    catalog = dev.one("datalake:index:LakeCatalog")
    assert catalog.outputs["domain_uri"] == f"s3://{ARTIFACTS}/domain/{beer.digest}.json"
    assert catalog.outputs["domain_digest"] == beer.digest


def test_every_workload_lambda_reads_the_published_domain(dev):
    uri = dev.one("datalake:index:LakeCatalog").outputs["domain_uri"]
    functions = [f for f in dev.of_type(FUNCTION) if f.name != "pii-rotation"]
    assert functions
    for function in functions:
        variables = (function.inputs.get("environment") or {}).get("variables", {})
        assert variables.get("DATALAKE_DOMAIN") == uri, function.name


def test_a_stack_deploys_its_own_domain(tickets):
    domain = load_domain(ROOT / TICKETS)
    tables = [t.inputs["name"] for t in tickets.of_type("aws:glue/catalogTable:CatalogTable")]
    assert sorted(tables) == ["agent", "customer", "ticket"]  # registration order varies
    published = tickets.named(OBJECT, "catalog-domain")
    assert published.inputs["key"] == f"domain/{domain.digest}.json"
    controller = tickets.named(FUNCTION, "bronze-controller").inputs["environment"]["variables"]
    assert controller["DATALAKE_DOMAIN"] == f"s3://{ARTIFACTS}/domain/{domain.digest}.json"


def test_the_classification_tags_follow_the_domain(tickets):
    tags = [t.inputs for t in tickets.of_type("aws:lakeformation/resourceLfTags:ResourceLfTags")]
    pii = [t["tableWithColumns"] for t in tags if t["lfTags"][0]["value"] == "pii"]
    assert pii == [
        {"databaseName": "datalake_dev_bronze", "name": "customer", "columnNames": ["email"]}
    ]
    public = {
        t["tableWithColumns"]["name"]: t["tableWithColumns"]["columnNames"]
        for t in tags
        if "tableWithColumns" in t and t["lfTags"][0]["value"] == "public"
    }
    assert public == {
        "customer": ["customer_id", "region"],
        "agent": ["agent_id", "agent_name", "team"],
    }


def test_a_bad_domain_setting_fails_before_any_resource_naming_the_setting(tmp_path):
    config = stack_config("dev")
    config["datalake:lake"] = {**config["datalake:lake"], "domain": "nowhere/domain.yaml"}
    with pytest.raises(pulumi.RunError, match=r"datalake:lake\.domain: no domain file at "):
        run_program("dev", config)


def test_a_setting_naming_a_table_the_domain_lacks_fails_the_program():
    config = stack_config("dev")
    config["datalake:lake"] = {
        **config["datalake:lake"],
        "domain": TICKETS,
        "pii": {"strategies": {"profile.email": "hash"}},
    }
    with pytest.raises(pulumi.RunError) as caught:
        run_program("dev", config)
    assert "datalake:lake.pii.strategies.profile.email: the domain support-tickets has no " in str(
        caught.value
    )
    assert "its tables: customer, agent, ticket" in str(caught.value)


@pytest.mark.parametrize(
    "policy",
    [
        "bronze-processing-controller-policy",
        "bronze-ingest-lite-policy",
        "bronze-ingest-mass-task-policy",
        "silver-plan-policy",
        "gold-plan-policy",
    ],
)
def test_the_workloads_that_load_the_domain_may_read_it(dev, policy):
    statements = dev.policy(policy)
    assert statements["ReadDomain"]["Action"] == ["s3:GetObject"]
    assert statements["ReadDomain"]["Resource"] == [f"arn:aws:s3:::{ARTIFACTS}/domain/*"]


def test_a_nullable_column_added_to_the_domain_updates_the_bronze_table_in_place(tickets, tmp_path):
    # Same resource (logical name), same location and partitions, one more column: Pulumi
    # updates the Glue table in place and old Parquet files read the column as null.
    evolved = tmp_path / "domain.yaml"
    satisfaction = "      - {name: satisfaction, type: long, minimum: 1, maximum: 5, "
    text = (ROOT / TICKETS).read_text()
    assert text.count(satisfaction) == 1
    line = next(x for x in text.splitlines() if x.startswith(satisfaction))
    evolved.write_text(text.replace(line, line + "\n      - {name: channel, type: string}"))
    config = stack_config("dev")
    config["datalake:lake"] = {**config["datalake:lake"], "domain": str(evolved)}
    after = run_stack(config)

    def ticket_table(inventory: Inventory) -> Registered:
        (table,) = [
            t
            for t in inventory.of_type("aws:glue/catalogTable:CatalogTable")
            if t.inputs["name"] == "ticket"
        ]
        return table

    old, new = ticket_table(tickets), ticket_table(after)
    assert new.name == old.name
    old_columns = [c["name"] for c in old.inputs["storageDescriptor"]["columns"]]
    new_columns = [c["name"] for c in new.inputs["storageDescriptor"]["columns"]]
    at = old_columns.index("satisfaction") + 1
    assert new_columns == [*old_columns[:at], "channel", *old_columns[at:]]
    assert new.inputs["partitionKeys"] == old.inputs["partitionKeys"]
    assert (
        new.inputs["storageDescriptor"]["location"] == old.inputs["storageDescriptor"]["location"]
    )
