"""Bronze -> silver: Iceberg upserts on two engines."""
