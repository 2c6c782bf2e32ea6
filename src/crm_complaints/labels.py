"""Clinic-facing labels in en, ja, zh-Hans and zh-Hant.

Every category, channel, department and task has a fixed label in each of the four languages,
worded as clinic staff say it (e.g. 受付 / 櫃檯 for the front desk, 療程效果未達預期 for a treatment
that fell short), plain wording otherwise. The language comes from the complaint's BCP 47 tag:
``ja`` → ja; ``zh`` with ``Hant`` or a TW/HK/MO region → zh-Hant, other ``zh`` → zh-Hans;
anything else, or no tag, → en.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from .schema import Category, Channel, Department

__all__ = ["LANGUAGES", "Language", "label", "resolve_language", "task_title"]

Language = Literal["en", "ja", "zh-Hans", "zh-Hant"]
LANGUAGES: tuple[Language, ...] = ("en", "ja", "zh-Hans", "zh-Hant")

CATEGORY_LABELS: dict[Category, dict[Language, str]] = {
    Category.MEDICAL_QUALITY: {
        "en": "Medical quality",
        "ja": "医療の質",
        "zh-Hans": "医疗质量",
        "zh-Hant": "醫療質量",
    },
    Category.TREATMENT_OUTCOME: {
        "en": "Treatment outcome below expectation",
        "ja": "施術効果が期待に届かない",
        "zh-Hans": "疗程效果未达预期",
        "zh-Hant": "療程效果未達預期",
    },
    Category.SIDE_EFFECT: {
        "en": "Side effect after a procedure",
        "ja": "施術後の副作用",
        "zh-Hans": "术后副作用",
        "zh-Hant": "術後副作用",
    },
    Category.PRODUCT: {
        "en": "Product sold by the clinic",
        "ja": "販売製品",
        "zh-Hans": "产品问题",
        "zh-Hant": "產品問題",
    },
    Category.PRICE_BILLING: {
        "en": "Price and billing",
        "ja": "料金・請求",
        "zh-Hans": "产品价格",
        "zh-Hant": "產品價格",
    },
    Category.SERVICE_ATTITUDE: {
        "en": "Service attitude",
        "ja": "接遇・態度",
        "zh-Hans": "服务态度",
        "zh-Hant": "服務態度",
    },
    Category.WAIT_TIME: {
        "en": "Waiting time",
        "ja": "待ち時間",
        "zh-Hans": "候诊时间",
        "zh-Hant": "候診時間",
    },
    Category.FACILITY: {
        "en": "Facilities and environment",
        "ja": "施設・設備",
        "zh-Hans": "就医环境",
        "zh-Hant": "就醫環境",
    },
    Category.PRIVACY: {
        "en": "Privacy and personal data",
        "ja": "個人情報・プライバシー",
        "zh-Hans": "隐私与个人信息",
        "zh-Hant": "隱私與個人資料",
    },
    Category.OTHER: {"en": "Other", "ja": "その他", "zh-Hans": "其他", "zh-Hant": "其他"},
}

CHANNEL_LABELS: dict[Channel, dict[Language, str]] = {
    Channel.PHONE: {"en": "Phone", "ja": "電話", "zh-Hans": "电话", "zh-Hant": "電話"},
    Channel.WALK_IN: {"en": "Walk-in", "ja": "来院・窓口", "zh-Hans": "到院", "zh-Hant": "到院"},
    Channel.EMAIL: {"en": "E-mail", "ja": "メール", "zh-Hans": "电子邮件", "zh-Hant": "電子郵件"},
    Channel.WEB_FORM: {
        "en": "Web form",
        "ja": "Webフォーム",
        "zh-Hans": "线上表单",
        "zh-Hant": "線上表單",
    },
    Channel.SOCIAL_MEDIA: {
        "en": "Social media",
        "ja": "SNS",
        "zh-Hans": "社交媒体",
        "zh-Hant": "社交媒體",
    },
    Channel.LETTER: {"en": "Letter", "ja": "書面", "zh-Hans": "书面", "zh-Hant": "書面"},
    Channel.REVIEW_SITE: {
        "en": "Review site",
        "ja": "口コミサイト",
        "zh-Hans": "点评网站",
        "zh-Hant": "評論網站",
    },
    Channel.OTHER: {"en": "Other", "ja": "その他", "zh-Hans": "其他", "zh-Hant": "其他"},
}

DEPARTMENT_LABELS: dict[Department, dict[Language, str]] = {
    Department.FRONT_DESK: {
        "en": "Front desk",
        "ja": "受付",
        "zh-Hans": "柜台",
        "zh-Hant": "櫃檯",
    },
    Department.CARE_STAFF: {
        "en": "Aesthetician / nurse",
        "ja": "エステティシャン・看護師",
        "zh-Hans": "美容师/护理师",
        "zh-Hant": "美容師/護理師",
    },
    Department.PHYSICIAN: {"en": "Physician", "ja": "医師", "zh-Hans": "医师", "zh-Hant": "醫師"},
    Department.MANAGEMENT: {
        "en": "Management",
        "ja": "社長・担当役員",
        "zh-Hans": "管理层",
        "zh-Hant": "管理層",
    },
}

TASK_TITLES: dict[str, dict[Language, str]] = {
    "report_supervisor": {
        "en": "Report to your supervisor at once, in detail",
        "ja": "ただちに上司へ報告(詳細)",
        "zh-Hans": "立即向上级详细报告",
        "zh-Hant": "立即向上級詳細報告",
    },
    "report_executive": {
        "en": "One-line note to the director or officer in charge",
        "ja": "社長・担当役員へ一言メールで報告",
        "zh-Hans": "向院长或主管领导简短报告",
        "zh-Hant": "向院長或主管領導簡短報告",
    },
    "initial_response": {
        "en": "Apology call and fact check (within 2 hours)",
        "ja": "お詫びの電話と事実確認(2時間以内)",
        "zh-Hans": "致歉电话与事实确认(2小时内)",
        "zh-Hant": "致歉電話與事實確認(2小時內)",
    },
    "investigation": {
        "en": "Initial investigation",
        "ja": "初期調査",
        "zh-Hans": "初步调查",
        "zh-Hant": "初步調查",
    },
    "resolution_plan": {
        "en": "Coordinate departments and decide the plan",
        "ja": "部署間の調整と対応方針の決定",
        "zh-Hans": "部门协调与方案制定",
        "zh-Hant": "部門協調與方案制定",
    },
    "incident_report": {
        "en": "Incident report with recurrence-prevention measures",
        "ja": "事故報告書(再発防止策)の作成と共有",
        "zh-Hans": "事故报告与再发防止措施",
        "zh-Hant": "事故報告與再發防止措施",
    },
    "follow_up": {
        "en": "Follow up on the customer's satisfaction",
        "ja": "お客様の満足度の確認(フォローアップ)",
        "zh-Hans": "效果追踪(满意度回访)",
        "zh-Hant": "效果追蹤(滿意度回訪)",
    },
}

_HANT_REGIONS = {"tw", "hk", "mo"}


@lru_cache(maxsize=256)
def resolve_language(tag: str | None) -> Language:
    """Map a BCP 47 tag to one of our label languages; anything unknown falls back to en."""
    if not tag:
        return "en"
    parts = [p.lower() for p in tag.replace("_", "-").split("-")]
    if parts[0] == "ja":
        return "ja"
    if parts[0] == "zh":
        if "hant" in parts or any(p in _HANT_REGIONS for p in parts[1:]):
            return "zh-Hant"
        return "zh-Hans"
    return "en"


def label(value: Category | Channel | Department, language: str | None = "en") -> str:
    """The clinic-facing label of a category, channel or department."""
    lang = resolve_language(language)
    table: dict[Language, str]
    if isinstance(value, Category):
        table = CATEGORY_LABELS[value]
    elif isinstance(value, Channel):
        table = CHANNEL_LABELS[value]
    else:
        table = DEPARTMENT_LABELS[value]
    return table[lang]


def task_title(kind: str, language: str | None) -> str:
    """A task's title in the complaint's language (en when we have no words for it)."""
    return TASK_TITLES[kind][resolve_language(language)]
