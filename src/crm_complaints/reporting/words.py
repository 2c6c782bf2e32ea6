"""The report pages' own words in en, ja, zh-Hans and zh-Hant (labels of categories, channels,
departments and tasks come from :mod:`crm_complaints.labels`)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from ..labels import Language, resolve_language

__all__ = ["WORDS", "human_time", "word"]

WORDS: dict[str, dict[Language, str]] = {
    "title": {
        "en": "Complaints: compliance and recurrence",
        "ja": "苦情対応：期限遵守と再発",
        "zh-Hans": "投诉处理：时限达成与复发",
        "zh-Hant": "投訴處理：時限達成與復發",
    },
    "previous_period": {"en": "previous", "ja": "前期", "zh-Hans": "上期", "zh-Hant": "上期"},
    "complaints": {"en": "complaints", "ja": "件", "zh-Hans": "件", "zh-Hant": "件"},
    "deadlines": {
        "en": "Deadlines kept",
        "ja": "期限遵守",
        "zh-Hans": "时限达成",
        "zh-Hant": "時限達成",
    },
    "on_time_share": {
        "en": "On-time share by department",
        "ja": "部門別の期限内対応率",
        "zh-Hans": "各部门按时完成率",
        "zh-Hant": "各部門準時完成率",
    },
    "median": {"en": "median", "ja": "中央値", "zh-Hans": "中位数", "zh-Hant": "中位數"},
    "volume": {
        "en": "Volume and mix",
        "ja": "件数と内訳",
        "zh-Hans": "数量与构成",
        "zh-Hant": "數量與構成",
    },
    "trend": {
        "en": "Complaints per month",
        "ja": "月別件数",
        "zh-Hans": "每月件数",
        "zh-Hant": "每月件數",
    },
    "by_category": {
        "en": "By category per month",
        "ja": "月別・分類別",
        "zh-Hans": "每月按类别",
        "zh-Hant": "每月按類別",
    },
    "category": {"en": "Category", "ja": "分類", "zh-Hans": "类别", "zh-Hant": "類別"},
    "channel": {"en": "Channel", "ja": "受付経路", "zh-Hans": "渠道", "zh-Hant": "管道"},
    "severity": {"en": "Severity", "ja": "重大度", "zh-Hans": "严重程度", "zh-Hant": "嚴重程度"},
    "risk_flag": {"en": "Risk", "ja": "リスク", "zh-Hans": "风险", "zh-Hant": "風險"},
    "recurrence": {"en": "Recurrence", "ja": "再発", "zh-Hans": "复发", "zh-Hant": "復發"},
    "recurrences": {"en": "recurrences", "ja": "再発", "zh-Hans": "次复发", "zh-Hant": "次復發"},
    "treatment": {"en": "Treatment", "ja": "施術", "zh-Hans": "疗程", "zh-Hant": "療程"},
    "product": {"en": "Product", "ja": "製品", "zh-Hans": "产品", "zh-Hant": "產品"},
    "lot_number": {"en": "Lot", "ja": "ロット", "zh-Hans": "批号", "zh-Hant": "批號"},
    "practitioner": {
        "en": "Practitioner",
        "ja": "担当者",
        "zh-Hans": "执行人员",
        "zh-Hant": "執行人員",
    },
    "customer": {"en": "Customer", "ja": "顧客", "zh-Hans": "顾客", "zh-Hant": "顧客"},
    "repeat_complainants": {
        "en": "Repeat complainants (not named)",
        "ja": "繰り返し申し出た方（氏名非表示）",
        "zh-Hans": "重复投诉人（不显示身份）",
        "zh-Hant": "重複投訴人（不顯示身分）",
    },
    "open_work": {
        "en": "Open work now",
        "ja": "現在の未完了業務",
        "zh-Hans": "当前未完成工作",
        "zh-Hant": "目前未完成工作",
    },
    "as_of": {"en": "as of", "ja": "集計時点", "zh-Hans": "统计时间", "zh-Hant": "統計時間"},
    "open": {"en": "open", "ja": "未完了", "zh-Hans": "未完成", "zh-Hant": "未完成"},
    "overdue": {"en": "overdue", "ja": "期限超過", "zh-Hans": "逾期", "zh-Hant": "逾期"},
    "current": {"en": "this period", "ja": "今期", "zh-Hans": "本期", "zh-Hant": "本期"},
    "clinic": {"en": "Clinic", "ja": "院", "zh-Hans": "门店", "zh-Hant": "門店"},
    "department": {"en": "Department", "ja": "部門", "zh-Hans": "部门", "zh-Hant": "部門"},
    "task": {"en": "Task", "ja": "業務", "zh-Hans": "任务", "zh-Hant": "任務"},
    "on_time": {"en": "on time", "ja": "期限内", "zh-Hans": "按时", "zh-Hant": "準時"},
    "late": {"en": "late", "ja": "期限超過", "zh-Hans": "逾时", "zh-Hant": "逾時"},
    "share": {"en": "share", "ja": "率", "zh-Hans": "比率", "zh-Hant": "比率"},
    "delay": {
        "en": "delay, business hours (median / p90)",
        "ja": "遅延・営業時間（中央値／90%）",
        "zh-Hans": "延迟·营业小时（中位数／90%）",
        "zh-Hant": "延遲·營業小時（中位數／90%）",
    },
    "count": {"en": "count", "ja": "件数", "zh-Hans": "件数", "zh-Hant": "件數"},
    "no_personal_data": {
        "en": "No personal data: customers are counted, never shown.",
        "ja": "個人情報は含みません（顧客は件数のみ）。",
        "zh-Hans": "不含个人信息：顾客仅计数，不显示。",
        "zh-Hant": "不含個人資料：顧客僅計數，不顯示。",
    },
}


def word(key: str, language: str | None) -> str:
    """A page word in the language (en when the language is not one of the four)."""
    return WORDS[key][resolve_language(language)]


_WEEKDAYS: dict[Language, tuple[str, ...]] = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "ja": ("月", "火", "水", "木", "金", "土", "日"),
    "zh-Hans": ("一", "二", "三", "四", "五", "六", "日"),
    "zh-Hant": ("一", "二", "三", "四", "五", "六", "日"),
}


def human_time(moment: datetime, zone: tzinfo, language: Language) -> str:
    """A date a clinic manager reads at a glance, in the clinic's zone."""
    local = moment.astimezone(zone)
    day = _WEEKDAYS[language][local.weekday()]
    if language == "en":
        return f"{day} {local.day} {local:%b %Y, %H:%M}"
    if language == "ja":
        return f"{local.year}年{local.month}月{local.day}日({day}) {local:%H:%M}"
    return f"{local.year}年{local.month}月{local.day}日(星期{day}) {local:%H:%M}"
