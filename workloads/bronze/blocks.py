"""The decompressed text of a JSON-lines object as blocks of whole lines, read ahead on a
thread of its own (``jsonl.py`` reads each block by the fast or the exact path)."""

from __future__ import annotations

import codecs
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .text import TextStream

JSONL_BLOCK_BYTES = 16 << 20
"""Decompressed bytes per block of whole lines (the fast path's unit and fallback unit)."""
_BREAK, _OPEN, _CLOSE, _CR = (ord(c) for c in "\n{}\r")
T = TypeVar("T")


@dataclass(frozen=True)
class Block:
    """Whole lines of the decompressed file: ``data`` ends with a line break unless it is the
    end of the file; ``breaks`` are the offsets of its ``\\n``."""

    data: bytes | memoryview
    first_line: int
    breaks: np.ndarray
    one_object_per_line: bool = False
    """Every line starts with ``{`` and ends with ``}`` (``}\\r``), and the text is UTF-8:
    what the fast path needs to be able to take the block (:func:`_shape_of_lines`)."""

    @property
    def line_count(self) -> int:
        """Physical lines in the block (a last line without a break counts)."""
        return len(self.breaks) + (0 if self.data[-1:] == b"\n" else 1)


def blocks_of(text: TextStream) -> Iterator[Block]:
    """Blocks of whole lines, with their first line's number and the offsets of the breaks."""
    pending = b""  # the start of a line the last block could not end
    line = 1
    while True:
        # The stream fills a fresh buffer behind the pending text: no copy of the block.
        buffer = np.empty(len(pending) + JSONL_BLOCK_BYTES, dtype=np.uint8)
        buffer[: len(pending)] = np.frombuffer(pending, dtype=np.uint8)
        read = text.readinto(buffer[len(pending) :].data)
        if not read:
            break
        filled = buffer[: len(pending) + read]
        # numpy releases the GIL: on the reading thread this overlaps with parsing
        breaks = np.flatnonzero(filled == _BREAK)
        if not len(breaks):  # no line break yet: a long line goes on
            pending = filled.tobytes()
            continue
        cut = int(breaks[-1]) + 1
        pending = filled[cut:].tobytes()
        whole = filled[:cut]
        fits = _shape_of_lines(whole, breaks) and (int(whole.max()) < 0x80 or _utf8(whole))
        yield Block(whole.data, line, breaks, fits)
        line += len(breaks)
    if pending:
        yield block_of(pending, line)


def block_of(data: bytes, first_line: int) -> Block:
    """The block of ``data`` (whole lines), its first line being ``first_line``."""
    text = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(text == _BREAK)
    return Block(data, first_line, breaks, _shape_of_lines(text, breaks) and _utf8(text))


def _shape_of_lines(text: np.ndarray, breaks: np.ndarray) -> bool:
    """Every line starts with ``{`` and ends with ``}`` (or ``}\\r``)."""
    if not len(text) or text[0] != _OPEN:
        return False
    ends = breaks if text[-1] == _BREAK else np.append(breaks, len(text))
    if not (text[ends[:-1] + 1] == _OPEN).all():
        return False
    last = text[ends - 1]
    carriage = last == _CR
    if carriage.any():  # "}\r\n": the character before the carriage return
        before = ends[carriage] - 2
        if (before < 0).any():
            return False
        last = last.copy()
        last[carriage] = text[before]
    return bool((last == _CLOSE).all())


def _utf8(text: np.ndarray) -> bool:
    """Arrow does not validate UTF-8 in strings; the exact path fails a file that is not."""
    try:
        codecs.utf_8_decode(text.data, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


_END = object()


def prefetched(items: Iterator[T], *, name: str, depth: int = 2) -> Iterator[T]:
    """``items`` produced on a thread of their own, at most ``depth`` ahead; its errors are
    raised here. What the thread does in Arrow, numpy or zlib releases the GIL, so it
    overlaps with what the caller does with the previous items."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(ready, item, stop):
                    return
            _put(ready, _END, stop)
        except BaseException as error:  # noqa: BLE001 handed to the consumer
            _put(ready, error, stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator: its own threads stop too
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _put(ready: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False
