"""PII detection: contract, patterns and Comprehend (stubbed with botocore's Stubber)."""

from __future__ import annotations

import dataclasses
import logging

import boto3
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from tenacity import wait_none

from datalake.contracts import Classification, Column, ColumnType, TableContract
from datalake.domain import default_domain_path, load_domain
from examples.beer.generate import sample_file
from workloads.pii.comprehend import ComprehendDetector
from workloads.pii.detection import MemoryVerdictCache, PiiDetector, S3VerdictCache, TableVerdict

PROFILE = load_domain(default_domain_path()).table("profile")
NOTES = TableContract(
    "notes",
    (
        Column("note_id", ColumnType.LONG, nullable=False),
        Column("author", ColumnType.STRING),
        Column("contact", ColumnType.STRING),
    ),
    ("note_id",),
)


@pytest.fixture
def comprehend():
    client = boto3.client(
        "comprehend", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def detector(client, **kwargs) -> PiiDetector:
    return PiiDetector(
        cache=kwargs.pop("cache", MemoryVerdictCache()),
        comprehend=ComprehendDetector(client, max_attempts=3, wait=wait_none()),
        **kwargs,
    )


def entities(text: str, hits: dict[int, tuple[str, float]]) -> dict:
    """A realistic DetectPiiEntities answer: one entity for each line index in ``hits``."""
    found, offset = [], 0
    for index, line in enumerate(text.split("\n")):
        if index in hits:
            kind, score = hits[index]
            found.append(
                {
                    "Score": score,
                    "Type": kind,
                    "BeginOffset": offset,
                    "EndOffset": offset + len(line),
                }
            )
        offset += len(line) + 1
    return {"Entities": found}


def profile_batch(rows: int = 500) -> pa.Table:
    table = pacsv.read_csv(
        sample_file("profile"),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in PROFILE.column_names}
        ),
    )
    return table.slice(0, rows)


def notes_batch(authors: list[str], contacts: list[str]) -> pa.Table:
    return pa.table(
        {
            "note_id": pa.array([str(i) for i in range(len(authors))]),
            "author": pa.array(authors),
            "contact": pa.array(contacts),
        }
    )


def test_the_sample_profile_yields_email_and_not_name_or_state(comprehend):
    client, stubber = comprehend
    batch = profile_batch()
    sample = 200
    names = batch.column("profile_name").to_pylist()
    step = len(names) / sample
    name_text = "\n".join(names[int(i * step)] for i in range(sample))
    # Comprehend sees a few user names as NAME, with middling confidence: not a PII column.
    stubber.add_response(
        "detect_pii_entities",
        entities(name_text, {i: ("NAME", 0.62) for i in range(0, sample, 7)}),
        {"Text": name_text, "LanguageCode": "en"},
    )
    stubber.add_response("detect_pii_entities", {"Entities": []})  # state: no entity
    verdict = detector(client).verdict(batch, PROFILE)
    assert verdict.pii_columns == {"email": "EMAIL"}
    assert verdict.columns["email"].reason == "declared PII in the contract"
    assert verdict.columns["profile_name"].reason.startswith("Comprehend: 14% of values")
    assert verdict.complete


def test_patterns_catch_an_undeclared_email_column_without_calling_comprehend(comprehend):
    client, _ = comprehend
    undeclared = dataclasses.replace(
        PROFILE,
        columns=tuple(
            dataclasses.replace(c, classification=Classification.INTERNAL, pii_type=None)
            for c in PROFILE.columns
        ),
    )
    batch = profile_batch(50).select(["profile_id", "email"])
    verdict = detector(client).verdict(batch, undeclared)
    assert verdict.pii_columns == {"email": "EMAIL"}
    assert verdict.columns["email"].reason == "patterns: 100% of 50 values are EMAIL"


@pytest.mark.parametrize(
    ("flagged", "score", "is_pii"),
    [
        (5, 0.7, True),  # exactly half, exactly the minimum score
        (5, 0.69, False),
        (4, 0.99, False),  # 40%
        (10, 0.7, True),
    ],
)
def test_threshold_edges(comprehend, flagged, score, is_pii):
    client, stubber = comprehend
    authors = [f"writer number {i}" for i in range(10)]
    stubber.add_response(
        "detect_pii_entities",
        entities("\n".join(authors), {i: ("NAME", score) for i in range(flagged)}),
    )
    stubber.add_response("detect_pii_entities", {"Entities": []})  # contact
    verdict = detector(client, min_fraction=0.5, min_score=0.7).verdict(
        notes_batch(authors, ["n/a"] * 10), NOTES
    )
    assert ("author" in verdict.pii_columns) is is_pii


def test_throttling_is_retried_then_succeeds(comprehend):
    client, stubber = comprehend
    authors = [f"Jane Doe {i}" for i in range(4)]
    stubber.add_client_error(
        "detect_pii_entities", service_error_code="ThrottlingException", http_status_code=400
    )
    stubber.add_client_error(
        "detect_pii_entities", service_error_code="ThrottlingException", http_status_code=400
    )
    stubber.add_response(
        "detect_pii_entities", entities("\n".join(authors), {i: ("NAME", 0.98) for i in range(4)})
    )
    stubber.add_response("detect_pii_entities", {"Entities": []})
    found = detector(client)
    verdict = found.verdict(notes_batch(authors, ["-"] * 4), NOTES)
    assert verdict.complete and verdict.pii_columns == {"author": "NAME"}
    assert found.comprehend.requests == 4


def test_a_permanent_error_fails_closed_and_is_not_cached(comprehend, caplog):
    client, stubber = comprehend
    contacts = ["+1 415 555 0132", "+44 20 7946 0958", "no phone", "+1 212 555 0199"]
    for _ in range(3):  # max_attempts throttles
        stubber.add_client_error(
            "detect_pii_entities", service_error_code="ThrottlingException", http_status_code=400
        )
    cache = MemoryVerdictCache()
    with caplog.at_level(logging.WARNING):
        verdict = detector(client, cache=cache).verdict(
            notes_batch(["Ann", "Bob", "Cy", "Di"], contacts), NOTES
        )
    assert not verdict.complete
    assert verdict.pii_columns == {"contact": "PHONE"}  # the patterns still mask phones
    assert "Comprehend unavailable" in verdict.columns["author"].reason
    assert "fell back to declared and pattern-detected columns" in caplog.text
    assert cache.entries == {}


def test_access_denied_is_not_retried(comprehend):
    client, stubber = comprehend
    stubber.add_client_error(
        "detect_pii_entities", service_error_code="AccessDeniedException", http_status_code=400
    )
    verdict = detector(client).verdict(notes_batch(["Ann"], ["-"]), NOTES)
    assert not verdict.complete


def test_verdicts_are_cached_per_table_version_and_columns(comprehend):
    client, stubber = comprehend
    stubber.add_response("detect_pii_entities", {"Entities": []})
    stubber.add_response("detect_pii_entities", {"Entities": []})
    found = detector(client)
    first = found.verdict(notes_batch(["Ann"], ["-"]), NOTES)
    again = found.verdict(notes_batch(["Bob"], ["?"]), NOTES)  # no Comprehend call left to make
    assert again is first
    evolved = dataclasses.replace(NOTES, version=2)
    stubber.add_response("detect_pii_entities", {"Entities": []})
    stubber.add_response("detect_pii_entities", {"Entities": []})
    assert found.verdict(notes_batch(["Cy"], ["-"]), evolved) is not first


def test_one_column_is_one_request_up_to_the_size_limit(comprehend):
    client, stubber = comprehend
    big = ["x" * 30_000 for _ in range(5)]  # 150 KB: two requests
    stubber.add_response("detect_pii_entities", {"Entities": []})
    stubber.add_response("detect_pii_entities", {"Entities": []})
    found = ComprehendDetector(client, wait=wait_none())
    assert found.findings(big) == [None] * 5
    assert found.requests == 2


def test_s3_cache_is_shared_between_workers():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake")
        verdict = TableVerdict("profile", 1)
        S3VerdictCache(s3, "lake").put("profile/v1/email", verdict)
        assert S3VerdictCache(s3, "lake").get("profile/v1/email") == verdict
        assert S3VerdictCache(s3, "lake").get("profile/v1/other") is None
