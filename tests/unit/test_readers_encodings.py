"""Issue 14: a CSV's encoding is detected (BOM, UTF-8, UTF-16, cp932, GB18030, Big5), named in
the summary, and ``csv.encoding`` wins when set. Every file is generated here."""

from __future__ import annotations

import codecs
import io

import pytest

from crm_complaints.config import CsvConfig
from crm_complaints.readers import QuarantineEntry, ReadResult, SourceInfo, read_csv
from crm_complaints.schema import Complaint

WHEN = "2026-11-20T10:15:00+09:00"
ROWS = {
    "ja": [
        ("受付番号", "院", "受付日時", "概要"),
        ("JA-1", "tokyo-ginza", WHEN, "受付の説明が不十分だった"),
        ("JA-2", "tokyo-ginza", WHEN, "施術後に赤みが出たとのお申し出"),
        ("JA-3", "tokyo-ginza", WHEN, "待ち時間が長いとのご意見"),
    ],
    "zh-Hans": [
        ("投诉编号", "诊所", "受理时间", "概要"),
        ("SH-1", "shanghai-jingan", WHEN, "前台服务态度不好"),
        ("SH-2", "shanghai-jingan", WHEN, "激光治疗后出现红肿"),
        ("SH-3", "shanghai-jingan", WHEN, "产品价格太贵了"),
    ],
    "zh-Hant": [
        ("投訴編號", "診所", "受理時間", "概要"),
        ("TP-1", "taipei-daan", WHEN, "櫃檯服務態度不佳"),
        ("TP-2", "taipei-daan", WHEN, "雷射治療後出現紅腫"),
        ("TP-3", "taipei-daan", WHEN, "購買護膚品後過敏"),
    ],
}


def table(language: str, delimiter: str = ",") -> str:
    return "".join(delimiter.join(row) + "\r\n" for row in ROWS[language])


def read(raw: bytes, config: CsvConfig | None = None) -> tuple[list[ReadResult], SourceInfo]:
    info = SourceInfo(kind="csv")
    return list(read_csv(io.BytesIO(raw), config, "in.csv", info=info)), info


def summaries(results: list[ReadResult]) -> list[str]:
    assert all(isinstance(r, Complaint) for r in results), results
    return [r.summary for r in results if isinstance(r, Complaint)]


@pytest.mark.parametrize(
    ("language", "codec", "bom", "delimiter", "named"),
    [
        ("ja", "utf-8", b"", ",", "UTF-8 (detected)"),
        ("ja", "utf-8", codecs.BOM_UTF8, ",", "UTF-8 (byte order mark)"),
        ("ja", "cp932", b"", ",", "cp932 (Shift_JIS) (detected)"),
        # Excel's "Unicode text": UTF-16 little-endian with a BOM, tab-separated
        ("ja", "utf-16-le", codecs.BOM_UTF16_LE, "\t", "UTF-16 (byte order mark)"),
        ("ja", "utf-16-be", codecs.BOM_UTF16_BE, "\t", "UTF-16 (byte order mark)"),
        ("ja", "utf-16-le", b"", "\t", "UTF-16 (detected)"),
        ("zh-Hans", "gb18030", b"", ",", "GB18030 (detected)"),
        ("zh-Hans", "utf-8", b"", ",", "UTF-8 (detected)"),
        ("zh-Hant", "big5", b"", ",", "Big5 (detected)"),
    ],
)
def test_each_encoding_is_detected_and_named(
    language: str, codec: str, bom: bytes, delimiter: str, named: str
) -> None:
    raw = bom + table(language, delimiter).encode(codec)
    results, info = read(raw)
    assert summaries(results) == [row[3] for row in ROWS[language][1:]]
    assert info.encoding == named
    assert info.delimiter == ("tab" if delimiter == "\t" else ",")
    assert [c.target for c in info.columns] == ["id", "clinic", "received_at", "summary"]


def test_configured_encoding_wins_over_detection() -> None:
    raw = table("ja").encode("cp932")
    # cp932 bytes read as Latin-1 are text too, just the wrong text: the config is obeyed.
    results, info = read(raw, CsvConfig(encoding="latin-1"))
    assert info.encoding == "iso8859-1 (configured)"
    assert all(isinstance(r, QuarantineEntry) for r in results)  # headers unknown: none valid


def test_a_long_ascii_start_does_not_hide_a_cp932_file() -> None:
    head = "id,clinic,received_at,summary\r\n"
    ascii_rows = "".join(f"A-{i:06d},tokyo,{WHEN},ok\r\n" for i in range(9000))  # > 256 KiB
    raw = (head + ascii_rows + f"J-1,tokyo,{WHEN},受付の説明が不十分\r\n").encode("cp932")
    assert len(raw) > 300_000
    results, info = read(raw)
    assert info.encoding == "cp932 (Shift_JIS) (detected)"
    assert isinstance(results[-1], Complaint) and results[-1].summary == "受付の説明が不十分"


def test_a_cell_invalid_in_the_detected_encoding_is_quarantined_not_lost() -> None:
    good = table("ja").encode("cp932")
    raw = good + b"JA-4,tokyo-ginza," + WHEN.encode() + b",\x81\x20\r\n"  # a cut cp932 pair
    results, info = read(raw)
    assert info.encoding.startswith("cp932")
    *valid, bad = results
    assert len(valid) == 3 and all(isinstance(r, Complaint) for r in valid)
    assert isinstance(bad, QuarantineEntry)
    assert (bad.line, bad.complaint_id, bad.field) == (5, "JA-4", "summary")
    assert "cp932" in bad.message


def test_utf8_with_one_stray_byte_stays_utf8() -> None:
    raw = table("ja").encode("utf-8") + b"JA-4,tokyo-ginza," + WHEN.encode() + b",\xff\r\n"
    results, info = read(raw)
    assert info.encoding == "UTF-8 (detected)"
    assert sum(isinstance(r, Complaint) for r in results) == 3
    assert isinstance(results[-1], QuarantineEntry) and "UTF-8" in results[-1].message


@pytest.mark.parametrize("noise", [b"a\x00" * 200, b"\x00a" * 200, b"\x00\x00a," * 100])
def test_a_line_of_nul_bytes_does_not_make_a_utf8_file_utf16(noise: bytes) -> None:
    # Before the check was tightened, one such line made the whole file "UTF-16": every good
    # row came out as CJK noise and was lost to quarantine.
    good = [b"G-%d,c,2026-11-18T10:00:00+09:00,ok %d\n" % (i, i) for i in range(3)]
    raw = b"id,clinic,received_at,summary\n" + good[0] + noise + b"\n" + b"".join(good[1:])
    results, info = read(raw)
    assert info.encoding is not None and not info.encoding.startswith("UTF-16")
    assert [r.id for r in results if isinstance(r, Complaint)] == ["G-0", "G-1", "G-2"]
