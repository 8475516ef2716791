"""The decompressed text of a raw object, and where its physical lines are.

:class:`TextStream` checks that the content is text (saying what it is otherwise), drops a
byte-order mark and, for CSV, leading blank lines, and counts line breaks as it streams;
:class:`RecordLines` turns the parser's records back into the physical line each starts on.
``workloads/bronze/reader.py`` builds records on top of it.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import deque
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalake.errors import InvalidRawFile

_BOM = b"\xef\xbb\xbf"
_BINARY_SIGNATURES = (
    (b"\x1f\x8b", "gzip-compressed data: the object is compressed twice"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"PAR1", "a Parquet file"),
)
_FIRST_LINE = re.compile(rb"([^\r\n]*)(\r\n|\n|\r(?!$))")


def is_blank_line(text: str) -> bool:
    """True for a line that is no record: only whitespace or invisible format characters."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


class TextStream:
    """File-like view of the decompressed bytes: checks they are text, drops a byte-order mark
    (and, for CSV, leading blank lines), counts physical lines, and can append a suffix."""

    def __init__(self, stream: Any, key: str, *, csv: bool, suffix: bytes = b""):
        self._stream = stream
        self._suffix = suffix
        self._key = key
        self._utf8 = codecs.getincrementaldecoder("utf-8")() if csv else None
        self._offset = 0  # decompressed bytes handed on
        self.closed = False
        self.breaks = LineBreaks() if csv else None
        first = self._stream.read(1 << 16)
        if first.startswith(_BOM):
            first = first[len(_BOM) :]
        for signature, what in _BINARY_SIGNATURES:
            if first.startswith(signature):
                raise InvalidRawFile(f"{key}: not text: the decompressed content is {what}")
        if first[:3] == b"BZh" and first[4:10] == b"1AY&SY":
            raise InvalidRawFile(f"{key}: not text: the decompressed content is bzip2 data")
        if b"\x00" in first[:8192]:
            raise InvalidRawFile(f"{key}: not text: the decompressed content is binary (NUL bytes)")
        self.leading_blank_lines = 0
        if csv:
            first = self._skip_blank_lines(first)
        self._pending = first
        self.empty = not first

    def _skip_blank_lines(self, data: bytes) -> bytes:
        while True:
            match = _FIRST_LINE.match(data)
            line = match.group(1) if match else data
            try:
                blank = is_blank_line(line.decode("utf-8"))
            except UnicodeDecodeError:
                blank = False  # perhaps a character cut by the read: the parser decides
            if not blank:
                return data
            if match is None:  # blank so far, no line break yet
                more = self._stream.read(1 << 16)
                if not more:
                    return b""
                data += more
                continue
            data = data[match.end() :]
            self.leading_blank_lines += 1

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            chunk, self._pending = self._pending, b""
        else:
            chunk = self._stream.read(size if size is not None and size >= 0 else 1 << 20)
        if chunk:
            self._check_utf8(chunk, final=False)
            if self.breaks is not None:
                self.breaks.feed(chunk)
            self._offset += len(chunk)
            return chunk
        self._check_utf8(b"", final=True)
        if self.breaks is not None:
            self.breaks.finish()
        chunk, self._suffix = self._suffix, b""
        return chunk

    def readinto(self, buffer: memoryview) -> int:
        """:meth:`read` into ``buffer`` (bytes read; 0 at the end). Without checks to make as
        it streams (JSON lines), the stream fills it directly: one copy less per block."""
        direct = self.breaks is None and self._utf8 is None and not self._suffix
        if self._pending or not direct or not hasattr(self._stream, "readinto"):
            chunk = self.read(len(buffer))
            if len(chunk) > len(buffer):  # the first chunk, larger than asked: keep the rest
                chunk, self._pending = chunk[: len(buffer)], chunk[len(buffer) :]
            buffer[: len(chunk)] = chunk
            return len(chunk)
        count = int(self._stream.readinto(buffer))
        self._offset += count
        return count

    def _check_utf8(self, chunk: bytes, *, final: bool) -> None:
        """CSV text must be UTF-8 throughout (checked here, before the parser sees a row)."""
        if self._utf8 is None or (chunk.isascii() and not self._utf8.getstate()[0]):
            return
        try:
            self._utf8.decode(chunk, final)
        except UnicodeDecodeError as error:
            seen = (self.breaks.lines if self.breaks else 0) + self.leading_blank_lines + 1
            line = seen + chunk.count(b"\n", 0, max(error.start, 0))
            raise InvalidRawFile(
                f"{self._key}: not UTF-8 text ({error.reason} at byte "
                f"{self._offset + error.start:,} of the decompressed data, near line {line})"
            ) from None

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class LineBreaks:
    """Counts the line breaks of the data and notes its empty lines (the CSV parser skips
    them, so they are invisible in its output but move every later record's line)."""

    def __init__(self) -> None:
        self.lines = 0  # breaks seen
        self.empty: deque[int] = deque()  # physical numbers of empty lines (after the first)
        self._cr = False
        self._at_line_start = False  # leading blank lines are skipped before the parser

    def feed(self, chunk: bytes) -> None:
        if self._cr:
            chunk, self._cr = b"\r" + chunk, False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                chunk, self._cr = chunk[:-1], True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not chunk:
            return
        base = self.lines
        if self._at_line_start and chunk[:1] == b"\n":
            self.empty.append(base + 1)
        counted = 0
        found = chunk.find(b"\n\n")
        while found != -1:
            base += chunk.count(b"\n", counted, found + 1)
            counted = found + 1
            self.empty.append(base + 1)
            found = chunk.find(b"\n\n", found + 1)
        self.lines += chunk.count(b"\n")
        self._at_line_start = chunk.endswith(b"\n")

    def finish(self) -> None:
        if self._cr:
            self._cr = False
            self.feed(b"\n")


class RecordLines:
    """Physical start line of each record, from the breaks inside records and the empty lines."""

    def __init__(self, breaks: LineBreaks, first_line: int):
        self.breaks = breaks
        self.offset = first_line - 1  # leading blank lines skipped before the parser
        self.next_start = 1
        self.last_start = first_line

    def starts(self, inner: np.ndarray) -> np.ndarray:
        """Start lines of the next records, whose values hold ``inner`` line breaks each."""
        if not len(inner):
            return np.empty(0, dtype=np.int64)
        inner = inner.astype(np.int64, copy=False)
        before = np.concatenate(([0], np.cumsum(inner)[:-1])) if len(inner) > 1 else np.zeros(1)
        starts = self.next_start + np.arange(len(inner), dtype=np.int64) + before.astype(np.int64)
        empty = self.breaks.empty
        if empty and empty[0] <= int(starts[-1] + inner[-1]):
            starts = self._with_empty_lines(starts, inner)
        self.next_start = int(starts[-1] + inner[-1]) + 1
        self.last_start = int(starts[-1]) + self.offset
        return starts + self.offset

    def _with_empty_lines(self, starts: np.ndarray, inner: np.ndarray) -> np.ndarray:
        empty, shift = self.breaks.empty, 0
        out = starts.copy()
        for i in range(len(starts)):
            start = int(starts[i]) + shift
            while empty and empty[0] < start:  # inside the previous record's values
                empty.popleft()
            while empty and empty[0] == start:  # an empty line before this record
                empty.popleft()
                shift += 1
                start += 1
            out[i] = start
        end = int(out[-1] + inner[-1])
        while empty and empty[0] <= end:  # inside the last record's values
            empty.popleft()
        return out


def line_breaks(values: pa.Array) -> pa.Array:
    crlf = pc.count_substring(values, "\r\n")
    breaks = pc.add(pc.count_substring(values, "\n"), pc.count_substring(values, "\r"))
    return pc.fill_null(pc.subtract(breaks, crlf), 0)


def inner_breaks(batch: pa.RecordBatch) -> np.ndarray:
    """Line breaks inside each row's values (quoted values may span lines); zeros if none."""
    spans = None
    for column in batch.columns:
        data = column.buffers()[2] if column.null_count < len(column) else None
        if data is None:
            continue
        raw = data.to_pybytes()
        if b"\n" not in raw and b"\r" not in raw:
            continue
        counted = line_breaks(column).to_numpy(zero_copy_only=False)
        spans = counted if spans is None else spans + counted
    return spans if spans is not None else np.zeros(batch.num_rows, dtype=np.int64)


def text_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")
