"""Masking strategies: properties that must hold for any input (hypothesis)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.pii.strategies import (
    MASK,
    apply_strategy,
    hash_values,
    hmac_reference,
    partial_values,
    redact_values,
)

KEY = b"0123456789abcdef0123456789abcdef"
texts = st.text(min_size=0, max_size=40)
long_texts = st.text(min_size=5, max_size=40)
values = st.lists(st.one_of(st.none(), texts), min_size=1, max_size=30)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(
    st.lists(long_texts, min_size=1, max_size=20), st.sampled_from(["hash", "partial", "redact"])
)
def test_masked_value_never_contains_an_input_of_five_or_more_characters(inputs, strategy):
    masked = apply_strategy(pa.array(inputs), strategy, key=KEY, token="[REDACTED]").to_pylist()
    for original, out in zip(inputs, masked, strict=True):
        assert original not in out


@FAST
@given(values, st.sampled_from(["hash", "partial", "redact"]))
def test_nulls_stay_null_and_values_stay_values(inputs, strategy):
    masked = apply_strategy(pa.array(inputs, pa.string()), strategy, key=KEY, token="[R]")
    assert [v is None for v in masked.to_pylist()] == [v is None for v in inputs]


@FAST
@given(values)
def test_hash_is_the_standard_hmac_sha256(inputs):
    hashed = hash_values(pa.array(inputs, pa.string()), KEY).to_pylist()
    expected = [None if v is None else hmac_reference(v, KEY) for v in inputs]
    assert hashed == expected


@FAST
@given(
    st.lists(texts, min_size=1, max_size=20),
    st.binary(min_size=1, max_size=100),
    st.binary(min_size=1, max_size=100),
)
def test_hash_is_deterministic_per_key_and_differs_across_keys(inputs, key, other):
    array = pa.array(inputs)
    first, again = hash_values(array, key).to_pylist(), hash_values(array, key).to_pylist()
    assert first == again
    assert all(len(h) == 64 and set(h) <= set("0123456789abcdef") for h in first)
    if key != other:
        assert hash_values(array, other).to_pylist() != first


@FAST
@given(st.lists(texts, min_size=1, max_size=20))
def test_partial_length_rules(inputs):
    for original, out in zip(inputs, partial_values(pa.array(inputs)).to_pylist(), strict=True):
        if original.count("@") == 1 and not any(c in " \t\n\r\f\v" for c in original):
            local, domain = original.split("@")
            if local and domain:
                assert out.endswith("@" + domain)
                masked_local = out[: -len(domain) - 1]
                assert len(masked_local) == (7 if len(local) >= 3 else 5)
                continue
        assert len(out) == (7 if len(original) >= 3 else 5)
        if len(original) >= 3:
            assert out[0] == original[0] and out[-1] == original[-1] and out[1:6] == MASK


def test_partial_keeps_the_email_domain():
    assert partial_values(pa.array(["charles04@example.org"])).to_pylist() == [
        "c*****4@example.org"
    ]


def test_redact_uses_the_token():
    assert redact_values(pa.array(["a", None]), "[X]").to_pylist() == ["[X]", None]


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="allowed: hash, partial, redact"):
        apply_strategy(pa.array(["a"]), "shuffle", key=KEY, token="t")


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="key is empty"):
        hash_values(pa.array(["a"]), b"")
