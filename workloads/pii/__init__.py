"""PII detection (declared, patterns, Amazon Comprehend) and masking for the ingest core."""
