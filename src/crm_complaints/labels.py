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

from .schema import Category, Channel, DemandKind, Department, RiskFlag, Severity, Status

__all__ = [
    "FIELD_LABELS",
    "LANGUAGES",
    "NO_WORDS",
    "YES_WORDS",
    "Labelled",
    "Language",
    "label",
    "labels_of",
    "resolve_language",
    "task_title",
]

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

STATUS_LABELS: dict[Status, dict[Language, str]] = {
    Status.RECEIVED: {"en": "Received", "ja": "受付", "zh-Hans": "已受理", "zh-Hant": "已受理"},
    Status.ACKNOWLEDGED: {
        "en": "Acknowledged",
        "ja": "初期対応済み",
        "zh-Hans": "已初步回应",
        "zh-Hant": "已初步回應",
    },
    Status.INVESTIGATING: {
        "en": "Investigating",
        "ja": "調査中",
        "zh-Hans": "调查中",
        "zh-Hant": "調查中",
    },
    Status.COORDINATING: {
        "en": "Coordinating departments",
        "ja": "部署間調整中",
        "zh-Hans": "部门协调中",
        "zh-Hant": "部門協調中",
    },
    Status.RESOLUTION_PROPOSED: {
        "en": "Resolution proposed",
        "ja": "対応方針提示済み",
        "zh-Hans": "已提出方案",
        "zh-Hant": "已提出方案",
    },
    Status.RESOLVING: {"en": "Resolving", "ja": "対応中", "zh-Hans": "处理中", "zh-Hant": "處理中"},
    Status.RESOLVED: {"en": "Resolved", "ja": "解決", "zh-Hans": "已解决", "zh-Hant": "已解決"},
    Status.CLOSED: {"en": "Closed", "ja": "完了", "zh-Hans": "已结案", "zh-Hant": "已結案"},
}

SEVERITY_LABELS: dict[Severity, dict[Language, str]] = {
    Severity.LOW: {"en": "Low", "ja": "低", "zh-Hans": "低", "zh-Hant": "低"},
    Severity.MEDIUM: {"en": "Medium", "ja": "中", "zh-Hans": "中", "zh-Hant": "中"},
    Severity.HIGH: {"en": "High", "ja": "高", "zh-Hans": "高", "zh-Hant": "高"},
    Severity.CRITICAL: {"en": "Critical", "ja": "緊急", "zh-Hans": "紧急", "zh-Hant": "緊急"},
}

DEMAND_KIND_LABELS: dict[DemandKind, dict[Language, str]] = {
    DemandKind.REFUND: {"en": "Refund", "ja": "返金", "zh-Hans": "退款", "zh-Hant": "退款"},
    DemandKind.COMPENSATION: {
        "en": "Compensation",
        "ja": "補償・賠償",
        "zh-Hans": "赔偿",
        "zh-Hant": "賠償",
    },
    DemandKind.APOLOGY: {"en": "Apology", "ja": "謝罪", "zh-Hans": "道歉", "zh-Hant": "道歉"},
    DemandKind.REDO_TREATMENT: {
        "en": "Redo the treatment",
        "ja": "再施術",
        "zh-Hans": "重新治疗",
        "zh-Hant": "重新治療",
    },
    DemandKind.EXPLANATION: {
        "en": "Explanation",
        "ja": "説明",
        "zh-Hans": "说明",
        "zh-Hant": "說明",
    },
    DemandKind.OTHER: {"en": "Other", "ja": "その他", "zh-Hans": "其他", "zh-Hant": "其他"},
}

RISK_FLAG_LABELS: dict[RiskFlag, dict[Language, str]] = {
    RiskFlag.BODILY_HARM: {
        "en": "Harm to life or body",
        "ja": "生命・身体への影響",
        "zh-Hans": "危及生命或身体",
        "zh-Hant": "危及生命或身體",
    },
    RiskFlag.SOCIAL_MEDIA: {
        "en": "Risk of spreading on social media",
        "ja": "SNS拡散の恐れ",
        "zh-Hans": "社交媒体扩散风险",
        "zh-Hant": "社交媒體擴散風險",
    },
    RiskFlag.LEGAL_ACTION: {
        "en": "Legal action",
        "ja": "訴訟の可能性",
        "zh-Hans": "诉讼风险",
        "zh-Hant": "訴訟風險",
    },
    RiskFlag.MEDIA: {
        "en": "Media coverage",
        "ja": "メディア報道の可能性",
        "zh-Hans": "媒体曝光风险",
        "zh-Hant": "媒體曝光風險",
    },
    RiskFlag.REGULATOR: {
        "en": "Regulator involved",
        "ja": "行政・保健所への申立て",
        "zh-Hans": "监管部门介入",
        "zh-Hant": "主管機關介入",
    },
    RiskFlag.REPEAT_COMPLAINT: {
        "en": "Repeat complaint",
        "ja": "再クレーム",
        "zh-Hans": "重复投诉",
        "zh-Hant": "重複投訴",
    },
}

FIELD_LABELS: dict[str, dict[Language, str]] = {
    "id": {"en": "Complaint no.", "ja": "受付番号", "zh-Hans": "投诉编号", "zh-Hant": "投訴編號"},
    "clinic": {"en": "Clinic", "ja": "院", "zh-Hans": "诊所", "zh-Hant": "診所"},
    "received_at": {
        "en": "Received at",
        "ja": "受付日時",
        "zh-Hans": "受理时间",
        "zh-Hant": "受理時間",
    },
    "occurred_at": {
        "en": "Occurred at",
        "ja": "発生日時",
        "zh-Hans": "发生时间",
        "zh-Hant": "發生時間",
    },
    "acknowledged_at": {
        "en": "First response at",
        "ja": "初期対応日時",
        "zh-Hans": "首次回应时间",
        "zh-Hant": "首次回應時間",
    },
    "resolved_at": {
        "en": "Resolved at",
        "ja": "解決日時",
        "zh-Hans": "解决时间",
        "zh-Hant": "解決時間",
    },
    "closed_at": {
        "en": "Closed at",
        "ja": "完了日時",
        "zh-Hans": "结案时间",
        "zh-Hant": "結案時間",
    },
    "channel": {"en": "Channel", "ja": "受付経路", "zh-Hans": "投诉渠道", "zh-Hant": "投訴管道"},
    "language": {"en": "Language", "ja": "言語", "zh-Hans": "语言", "zh-Hant": "語言"},
    "category": {"en": "Category", "ja": "分類", "zh-Hans": "分类", "zh-Hant": "分類"},
    "summary": {"en": "Summary", "ja": "概要", "zh-Hans": "概要", "zh-Hant": "概要"},
    "description": {"en": "Details", "ja": "詳細", "zh-Hans": "详细经过", "zh-Hant": "詳細經過"},
    "severity": {"en": "Severity", "ja": "重要度", "zh-Hans": "严重程度", "zh-Hant": "嚴重程度"},
    "status": {"en": "Status", "ja": "対応状況", "zh-Hans": "处理状态", "zh-Hant": "處理狀態"},
    "demand.kind": {"en": "Demand", "ja": "要求内容", "zh-Hans": "诉求", "zh-Hant": "訴求"},
    "demand.amount": {"en": "Amount", "ja": "金額", "zh-Hans": "金额", "zh-Hant": "金額"},
    "demand.currency": {"en": "Currency", "ja": "通貨", "zh-Hans": "币种", "zh-Hant": "幣別"},
    "reporter.staff_id": {
        "en": "Reporter staff id",
        "ja": "受付者 職員番号",
        "zh-Hans": "受理人工号",
        "zh-Hant": "受理人員編號",
    },
    "reporter.name": {"en": "Reporter", "ja": "受付者", "zh-Hans": "受理人", "zh-Hant": "受理人員"},
    "reporter.department": {
        "en": "Reporter's department",
        "ja": "受付者 部署",
        "zh-Hans": "受理人部门",
        "zh-Hant": "受理人員部門",
    },
    "assignee": {"en": "Assignee", "ja": "担当者", "zh-Hans": "负责人", "zh-Hant": "負責人"},
    "customer.external_id": {
        "en": "Patient no.",
        "ja": "患者番号",
        "zh-Hans": "顾客编号",
        "zh-Hant": "顧客編號",
    },
    "customer.name": {
        "en": "Patient name",
        "ja": "患者氏名",
        "zh-Hans": "顾客姓名",
        "zh-Hant": "顧客姓名",
    },
    "customer.phone": {"en": "Phone", "ja": "電話番号", "zh-Hans": "电话", "zh-Hant": "電話"},
    "customer.email": {
        "en": "E-mail",
        "ja": "メールアドレス",
        "zh-Hans": "邮箱",
        "zh-Hant": "電子郵件",
    },
    "related.treatment": {"en": "Treatment", "ja": "施術名", "zh-Hans": "疗程", "zh-Hant": "療程"},
    "related.product": {"en": "Product", "ja": "製品名", "zh-Hans": "产品", "zh-Hant": "產品"},
    "related.lot_number": {
        "en": "Lot number",
        "ja": "ロット番号",
        "zh-Hans": "批号",
        "zh-Hant": "批號",
    },
    "related.practitioner": {
        "en": "Practitioner",
        "ja": "施術者",
        "zh-Hans": "操作人员",
        "zh-Hant": "操作人員",
    },
}
"""Column headers of the template, one per field, in the clinic's language; a reader knows
them in every language, so a filled-in template needs no ``csv.columns``."""

YES_WORDS: frozenset[str] = frozenset(
    {"yes", "y", "true", "1", "x", "○", "◯", "●", "✓", "✔", "あり", "有", "有り", "はい", "是"}
)
NO_WORDS: frozenset[str] = frozenset(
    {
        "no",
        "n",
        "false",
        "0",
        "-",
        "×",
        "✗",
        "なし",
        "無",
        "無し",
        "いいえ",
        "否",
        "无",
        "沒有",
        "没有",
    }
)
"""How a yes/no column of one risk flag is filled in (compared after NFKC and casefold)."""

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


Labelled = Category | Channel | Department | Status | Severity | DemandKind | RiskFlag


def label(value: Labelled, language: str | None = "en") -> str:
    """The clinic-facing label of an enumerated value (category, channel, department…)."""
    return labels_of(value)[resolve_language(language)]


def labels_of(value: Labelled) -> dict[Language, str]:
    """A value's label in each of the four languages."""
    if isinstance(value, Category):
        return CATEGORY_LABELS[value]
    if isinstance(value, Channel):
        return CHANNEL_LABELS[value]
    if isinstance(value, Department):
        return DEPARTMENT_LABELS[value]
    if isinstance(value, Status):
        return STATUS_LABELS[value]
    if isinstance(value, Severity):
        return SEVERITY_LABELS[value]
    if isinstance(value, DemandKind):
        return DEMAND_KIND_LABELS[value]
    return RISK_FLAG_LABELS[value]


def task_title(kind: str, language: str | None) -> str:
    """A task's title in the complaint's language (en when we have no words for it)."""
    return TASK_TITLES[kind][resolve_language(language)]
