"""The Iceberg catalog of the arrow engine: AWS Glue (real, or an emulator's endpoint)."""

from __future__ import annotations

from pyiceberg.catalog import Catalog, load_catalog

from ..shared.fileio import IMPL as FILE_IO


def glue_catalog(region: str, *, endpoint: str | None = None, name: str = "glue") -> Catalog:
    """pyiceberg's Glue catalog with S3 file IO (:class:`~workloads.shared.fileio.LakeFileIO`);
    ``endpoint`` points both at an emulator."""
    properties = {
        "type": "glue",
        "glue.region": region,
        "s3.region": region,
        "py-io-impl": FILE_IO,
    }
    if endpoint:
        properties.update(
            {
                "glue.endpoint": endpoint,
                "s3.endpoint": endpoint,
                # An emulator answers any key; path-style URLs reach it without DNS tricks.
                "glue.access-key-id": "testing",
                "glue.secret-access-key": "testing",
                "s3.access-key-id": "testing",
                "s3.secret-access-key": "testing",
                "s3.force-virtual-addressing": "false",
            }
        )
    return load_catalog(name, **properties)
