"""Issue 14: values in the clinic's words (labels in ja / zh-Hans / zh-Hant / en, synonyms
from config), yes/no risk flag columns, and amounts like ¥30,000 or 30,000円."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from crm_complaints.config import CsvConfig, ValueWords, load_settings
from crm_complaints.errors import ConfigError
from crm_complaints.readers import QuarantineEntry, ReadResult, read_csv
from crm_complaints.readers.values import AmountError, parse_amount
from crm_complaints.schema import Complaint

WHEN = "2026-11-20T10:15:00+09:00"


def read(header: str, *rows: str, config: CsvConfig | None = None) -> list[ReadResult]:
    text = header + "\n" + "".join(row + "\n" for row in rows)
    return list(read_csv(io.BytesIO(text.encode()), config or CsvConfig(), "in.csv"))


def only(results: list[ReadResult]) -> Complaint:
    [result] = results
    assert isinstance(result, Complaint), result
    return result


def test_japanese_labels_and_template_headers_need_no_mapping() -> None:
    complaint = only(
        read(
            "受付番号,院,受付日時,受付経路,分類,概要,対応状況,要求内容,金額,"
            "受付者 部署,SNS拡散の恐れ",
            f'J-1,tokyo-ginza,{WHEN},電話,施術後の副作用,赤み,調査中,返金,"30,000円",受付,あり',
        )
    )
    assert (complaint.channel, complaint.category, complaint.status) == (
        "phone",
        "side_effect",
        "investigating",
    )
    assert complaint.demand is not None
    assert (complaint.demand.kind, complaint.demand.amount, complaint.demand.currency) == (
        "refund",
        Decimal(30000),
        "JPY",
    )
    assert complaint.reporter is not None and complaint.reporter.department == "front_desk"
    assert complaint.risk_flags == {"social_media"}


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        (
            "投诉编号,诊所,受理时间,投诉渠道,分类,概要,诉求,处理状态",
            f"S-1,shanghai-jingan,{WHEN},社交媒体,服务态度,态度不好,道歉,处理中",
            ("social_media", "service_attitude", "apology", "resolving"),
        ),
        (
            "投訴編號,診所,受理時間,投訴管道,分類,概要,訴求,處理狀態",
            f"T-1,taipei-daan,{WHEN},到院,療程效果未達預期,效果不佳,重新治療,已結案",
            ("walk_in", "treatment_outcome", "redo_treatment", "closed"),
        ),
        (
            "id,clinic,received_at,channel,category,summary,demand.kind,status",
            f"E-1,new-york-soho,{WHEN},Walk-in,Waiting time,late,Explanation,Investigating",
            ("walk_in", "wait_time", "explanation", "investigating"),
        ),
    ],
)
def test_chinese_and_english_labels(header: str, row: str, expected: tuple[str, ...]) -> None:
    complaint = only(read(header, row))
    assert complaint.demand is not None
    assert (complaint.channel, complaint.category, complaint.demand.kind, complaint.status) == (
        expected
    )


def test_synonyms_from_config_map_the_clinics_own_words() -> None:
    config = CsvConfig(
        values=ValueWords(
            category={"施術効果": "treatment_outcome", "価格": "price_billing"},  # type: ignore[dict-item]
            channel={"LINE": "social_media"},  # type: ignore[dict-item]
        )
    )
    results = read(
        "id,clinic,received_at,summary,category,channel",
        f"A,tokyo,{WHEN},x,施術効果,LINE",
        f"B,tokyo,{WHEN},x,価格,line",
        f"C,tokyo,{WHEN},x,よく分からない,電話",
        config=config,
    )
    a, b, c = results
    assert isinstance(a, Complaint) and (a.category, a.channel) == (
        "treatment_outcome",
        "social_media",
    )
    assert isinstance(b, Complaint) and (b.category, b.channel) == ("price_billing", "social_media")
    assert isinstance(c, QuarantineEntry) and c.field == "category"
    assert "よく分からない" not in c.message and "treatment_outcome" in c.message


def test_synonym_to_a_value_that_does_not_exist_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text('[csv.values.category]\n"施術効果" = "treatment_result"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert raised.value.key is not None and raised.value.key.startswith("csv.values.category")


def test_a_columns_target_that_is_not_a_field_is_a_config_error_naming_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text('[csv.columns]\n"氏名" = "customer.nmae"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert raised.value.key == "csv.columns" and "csv.columns.氏名" in str(raised.value)


def test_yes_no_columns_per_flag_and_a_list_column() -> None:
    config = CsvConfig(
        columns={"SNS拡散の恐れ": "risk_flags.social_media", "訴訟": "risk_flags.legal_action"}
    )
    results = read(
        "id,clinic,received_at,summary,SNS拡散の恐れ,訴訟,risk_flags",
        f"A,tokyo,{WHEN},x,あり,なし,",
        f"B,tokyo,{WHEN},x,○,有,再クレーム、生命・身体への影響",
        f"C,tokyo,{WHEN},x,たぶん,,",
        config=config,
    )
    a, b, c = results
    assert isinstance(a, Complaint) and a.risk_flags == {"social_media"}
    assert isinstance(b, Complaint) and b.risk_flags == {
        "social_media",
        "legal_action",
        "repeat_complaint",
        "bodily_harm",
    }
    assert isinstance(c, QuarantineEntry) and c.field == "risk_flags.social_media"
    assert "たぶん" not in c.message


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("¥30,000", "JP", (Decimal(30000), "JPY")),
        ("￥30,000", "CN", (Decimal(30000), "CNY")),
        ("30,000円", None, (Decimal(30000), "JPY")),
        ("３０，０００円", None, (Decimal(30000), "JPY")),
        ("3万円", None, (Decimal(30000), "JPY")),
        ("1.5万元", "CN", (Decimal(15000), "CNY")),
        ("NT$1,200", None, (Decimal(1200), "TWD")),
        ("1200 TWD", None, (Decimal(1200), "TWD")),
        ("$1,000.50", "US", (Decimal("1000.50"), "USD")),
        ("30000", "JP", (Decimal(30000), None)),
    ],
)
def test_amounts(text: str, country: str | None, expected: tuple[Decimal, str | None]) -> None:
    assert parse_amount(text, country) == expected


@pytest.mark.parametrize(
    ("text", "country"), [("¥30,000", "US"), ("三万円", "JP"), ("30,00,0", "JP")]
)
def test_amounts_that_cannot_be_read_are_errors_without_a_guess(text: str, country: str) -> None:
    with pytest.raises(AmountError) as raised:
        parse_amount(text, country)
    assert text not in str(raised.value)


def test_amount_sign_disagreeing_with_the_currency_column_is_quarantined() -> None:
    [entry] = read(
        "id,clinic,received_at,summary,demand.kind,demand.amount,demand.currency",
        f'A,tokyo,{WHEN},x,refund,"30,000円",CNY',
    )
    assert isinstance(entry, QuarantineEntry)
    assert entry.field.startswith("demand")


def test_two_columns_for_one_field_are_not_overwritten_silently() -> None:
    # "id" and 受付番号 both fill id: before, the later cell replaced the earlier unseen.
    a, b = read(
        "id,受付番号,clinic,received_at,summary",
        f"A-1,,tokyo,{WHEN},x",
        f"A-2,B-2,tokyo,{WHEN},x",
    )
    assert isinstance(a, Complaint) and a.id == "A-1"
    assert isinstance(b, QuarantineEntry) and b.field == "column 2"
    assert "fills id like an earlier column" in b.message and "B-2" not in b.message
