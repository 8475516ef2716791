"""The Iceberg file IO of the arrow engine: pyiceberg's pyarrow IO, with S3 writes delayed.

pyarrow's S3 output stream starts a multipart upload when it opens, so every file costs
three requests (create, upload part, complete) however small it is. With
``allow_delayed_open`` the upload starts only once a part's worth of bytes is buffered, and a
file closed before that is one ``PutObject``: most Iceberg files (manifests, manifest lists,
small partitions' data files) are one request instead of three, on AWS and on the emulator.
pyiceberg builds the S3 filesystem from its properties and has none for this option, so
:class:`LakeFileIO` rebuilds the filesystem pyiceberg made with the option turned on
(through pyarrow's pickling arguments, which name every option of the filesystem).
"""

from __future__ import annotations

from typing import Any

from pyarrow.fs import FileSystem, S3FileSystem
from pyiceberg.io.pyarrow import PyArrowFileIO

IMPL = f"{__name__}.LakeFileIO"
"""The catalog property ``py-io-impl`` that selects :class:`LakeFileIO`."""


def with_delayed_open(fs: S3FileSystem) -> S3FileSystem:
    """The same S3 filesystem (every option kept) with ``allow_delayed_open`` on."""
    rebuild, (options,) = fs.__reduce__()
    delayed: dict[str, Any] = {**options, "allow_delayed_open": True}
    return rebuild(delayed)


class LakeFileIO(PyArrowFileIO):
    """pyiceberg's :class:`PyArrowFileIO` whose S3 writes of small files are one request."""

    def _initialize_s3_fs(self, netloc: str | None) -> FileSystem:
        fs = super()._initialize_s3_fs(netloc)
        return with_delayed_open(fs) if isinstance(fs, S3FileSystem) else fs
