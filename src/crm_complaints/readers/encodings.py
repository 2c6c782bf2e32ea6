"""Which text encoding a clinic's CSV is in: configured, else detected, never assumed.

Order: a byte order mark (UTF-8, UTF-16) decides; then UTF-16 without one (Excel's "Unicode
text" is UTF-16 with tabs); then strict UTF-8; then charset-normalizer, limited to the
encodings the clinics' tools write (cp932 / Shift_JIS, GB18030, Big5), on a sample of the
file. A wrong guess loses nothing: a cell that is not valid in the chosen encoding is
quarantined with its line, and ``validate`` names the encoding it used.
See https://charset-normalizer.readthedocs.io/ (``from_bytes``, ``cp_isolation``).
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from typing import BinaryIO

from charset_normalizer import from_bytes

from ..errors import ConfigError

__all__ = ["TextEncoding", "detect_encoding", "open_text"]

SAMPLE_BYTES = 256 * 1024
_MAX_ASCII_SCAN = 16 * 1024 * 1024
_CANDIDATES = ["cp932", "gb18030", "big5"]
_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "cp932": "cp932 (Shift_JIS)",
    "shift_jis": "Shift_JIS",
    "gb18030": "GB18030",
    "big5": "Big5",
}


@dataclass(frozen=True)
class TextEncoding:
    """A codec Python knows, how it was chosen, and its name as an admin knows it."""

    codec: str
    how: str  # "configured", "byte order mark", "detected"

    @property
    def name(self) -> str:
        canonical = codecs.lookup(self.codec).name
        return _NAMES.get(canonical, canonical)

    def describe(self) -> str:
        return f"{self.name} ({self.how})"


def detect_encoding(sample: bytes, *, whole_file: bool) -> TextEncoding:
    """The encoding of a file that starts with ``sample``."""
    if sample.startswith(codecs.BOM_UTF8):
        return TextEncoding("utf-8-sig", "byte order mark")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return TextEncoding("utf-16", "byte order mark")
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return TextEncoding(utf16, "detected")
    if not whole_file:  # don't judge a character cut in half at the sample's end
        sample = sample[: sample.rfind(b"\n") + 1] or sample
    as_utf8 = sample.decode("utf-8", errors="replace")
    invalid = as_utf8.count("\ufffd")
    if invalid == 0:
        return TextEncoding("utf-8", "detected")
    if len(as_utf8) - len(as_utf8.encode("ascii", errors="ignore")) >= 5 * invalid:
        # Mostly valid UTF-8 with a stray bad byte: a cell to quarantine, not another encoding.
        return TextEncoding("utf-8", "detected")
    best = from_bytes(sample, cp_isolation=_CANDIDATES).best()
    if best is not None:
        return TextEncoding(codecs.lookup(best.encoding).name, "detected")
    return _despite_bad_lines(sample)


def _despite_bad_lines(sample: bytes) -> TextEncoding:
    """The encoding when a few lines are broken (a cut character, a stray byte): judged on
    the lines that decode, if at most 1 in 100 don't. Nothing fits: UTF-8, and each cell
    invalid in it is quarantined."""
    lines = sample.splitlines(keepends=True)
    scored: list[tuple[float, str]] = []
    for candidate in _CANDIDATES:
        clean = [line for line in lines if _decodes(line, candidate)]
        if len(lines) - len(clean) > max(1, len(lines) // 100):
            continue
        text = b"".join(clean)
        if text.isascii():  # plain ASCII fits every candidate and tells them nothing apart
            continue
        match = from_bytes(text, cp_isolation=[candidate]).best()
        if match is not None:
            scored.append((match.chaos, candidate))
    if not scored:
        return TextEncoding("utf-8", "no other encoding fits")
    return TextEncoding(codecs.lookup(min(scored)[1]).name, "detected")


def _decodes(line: bytes, codec: str) -> bool:
    try:
        line.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text of CJK and ASCII has a zero in every other byte of its ASCII characters."""
    head = sample[:4096]
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4 or head.count(0) < len(head) // 8:
        return None
    halves = {"utf-16-le": (head[1::2], head[0::2]), "utf-16-be": (head[0::2], head[1::2])}
    for codec, (high, low) in halves.items():
        # ASCII in UTF-16: a zero high byte. A zero low byte is all but absent in text (U+xx00).
        # The header row's delimiters are ASCII too: zeros from its first characters on, not
        # from one odd line of NUL bytes further down.
        if not high[:32].count(0):
            continue
        if high.count(0) >= len(high) // 5 and low.count(0) <= len(low) // 100:
            try:
                text = head.decode(codec)
            except UnicodeDecodeError:  # a lone surrogate: noise, not text
                continue
            if "\n" in text:  # its own line breaks, not bytes that happen to pair up
                return codec
    return None


class _Replayed(io.RawIOBase):
    """The bytes already read for detection, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_text(stream: BinaryIO, configured: str | None) -> tuple[io.TextIOWrapper, TextEncoding]:
    """The stream as text in the configured encoding, else the detected one. Bytes invalid in
    it survive as lone surrogates (``surrogateescape``) for the reader to quarantine."""
    if configured is not None:
        try:
            codecs.lookup(configured)
        except LookupError as exc:
            raise ConfigError(
                f"{configured!r} is not a text encoding Python knows (utf-8-sig, cp932…)",
                key="csv.encoding",
            ) from exc
        encoding = TextEncoding(configured, "configured")
        raw: BinaryIO = stream
    else:
        head = stream.read(SAMPLE_BYTES)
        whole = len(head) < SAMPLE_BYTES
        # A file whose first lines are plain ASCII says nothing yet: read on to its first
        # other byte (within bounds), as a cp932 file with ASCII-only early rows would be.
        while not whole and head.isascii() and len(head) < _MAX_ASCII_SCAN:
            more = stream.read(SAMPLE_BYTES)
            whole = len(more) < SAMPLE_BYTES
            head += more
        sample = head if head.isascii() else head[_non_ascii_window(head) :]
        encoding = detect_encoding(sample[:SAMPLE_BYTES], whole_file=whole)
        raw = io.BufferedReader(_Replayed(head, stream))
    text = io.TextIOWrapper(raw, encoding=encoding.codec, errors="surrogateescape", newline="")
    return text, encoding


def _non_ascii_window(head: bytes) -> int:
    """Where the sample should start: the line before the first non-ASCII byte, so a long
    ASCII prefix doesn't crowd out the bytes that tell encodings apart."""
    if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return 0
    first = next(i for i, byte in enumerate(head) if byte > 0x7F)
    if first < SAMPLE_BYTES // 2:
        return 0
    return head.rfind(b"\n", 0, first) + 1
