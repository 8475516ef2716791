"""Raw -> bronze ingestion: one code path for the Lambda ("lite") and the ECS task ("mass")."""
