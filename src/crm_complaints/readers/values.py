"""Values in the clinic's words: labels in en / ja / zh-Hans / zh-Hant, synonyms from config,
yes/no columns of one risk flag, and amounts written ``¥30,000`` or ``30,000円``.

A word nobody knows is passed on unchanged, so the schema refuses it with the list of values
it accepts; it is never mapped to a guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache

from ..config import ValueWords
from ..labels import NO_WORDS, YES_WORDS, labels_of
from ..schema import Category, Channel, DemandKind, Department, RiskFlag, Severity, Status

__all__ = [
    "ENUM_FIELDS",
    "Vocabulary",
    "normalize_word",
    "parse_amount",
]

ENUM_FIELDS: dict[str, type[StrEnum]] = {
    "category": Category,
    "channel": Channel,
    "status": Status,
    "severity": Severity,
    "demand.kind": DemandKind,
    "reporter.department": Department,
    "risk_flags": RiskFlag,
}
_CONFIG_KEYS = {"demand.kind": "demand_kind", "reporter.department": "department"}
_JOINERS = re.compile(r"[\s_\-]+")


@lru_cache(maxsize=4096)
def normalize_word(text: str) -> str:
    """How two spellings of one word are compared: NFKC (full-width forms), case, and spaces,
    hyphens or underscores alike (``Walk-in`` = ``walk_in``)."""
    return _JOINERS.sub("_", unicodedata.normalize("NFKC", text).casefold().strip())


@dataclass(frozen=True)
class Vocabulary:
    """Every word a clinic may use for each enumerated field, mapped to the schema's value."""

    words: Mapping[str, Mapping[str, str]]
    yes: frozenset[str]
    no: frozenset[str]
    clinics: Mapping[str, str]

    @classmethod
    def build(cls, synonyms: ValueWords | None = None) -> Vocabulary:
        synonyms = synonyms or ValueWords()
        words: dict[str, dict[str, str]] = {}
        for path, enum in ENUM_FIELDS.items():
            table: dict[str, str] = {}
            for member in enum:
                table[normalize_word(member.value)] = member.value
                for text in labels_of(member).values():  # type: ignore[arg-type]
                    table.setdefault(normalize_word(text), member.value)
            configured: dict[str, StrEnum] = getattr(synonyms, _CONFIG_KEYS.get(path, path))
            for text, member in configured.items():
                table[normalize_word(text)] = member.value  # the clinic's own words win
            words[path] = table
        return cls(
            words=words,
            yes=frozenset(map(normalize_word, [*YES_WORDS, *synonyms.yes])),
            no=frozenset(map(normalize_word, [*NO_WORDS, *synonyms.no])),
            clinics={normalize_word(name): id_ for name, id_ in synonyms.clinic.items()},
        )

    def clinic(self, text: str) -> str:
        """A clinic's id for its name as the sheet writes it (``csv.values.clinic``)."""
        return self.clinics.get(normalize_word(text), text) if self.clinics else text

    def value(self, path: str, text: str) -> str:
        """The schema value for a clinic's word, or the word itself for the schema to refuse."""
        return self.words[path].get(normalize_word(text), text)

    def flags(self, text: str, separators: Iterable[str]) -> list[str]:
        """A list cell of risk flags: split on the separator (and 、 or a comma)."""
        pattern = "|".join(re.escape(s) for s in {*separators, "、", ","} if s)
        return [
            self.value("risk_flags", part.strip())
            for part in re.split(pattern, text)
            if part.strip()
        ]

    def yes_no(self, text: str) -> bool | None:
        """True for あり / yes / ○…, False for なし / no / ×…, None for anything else."""
        word = normalize_word(text)
        if word in self.yes:
            return True
        if word in self.no:
            return False
        return None


# Currency signs and words, after NFKC (so ￥ is ¥). A sign several currencies share is settled
# by the clinic's country; otherwise the row is quarantined rather than guessed.
_SIGNS: tuple[tuple[str, frozenset[str]], ...] = (
    ("人民币", frozenset({"CNY"})),
    ("新台幣", frozenset({"TWD"})),
    ("新台币", frozenset({"TWD"})),
    ("台幣", frozenset({"TWD"})),
    ("nt$", frozenset({"TWD"})),
    ("us$", frozenset({"USD"})),
    ("rmb", frozenset({"CNY"})),
    ("円", frozenset({"JPY"})),
    ("¥", frozenset({"JPY", "CNY"})),
    ("元", frozenset({"CNY", "TWD"})),
    ("$", frozenset({"USD", "TWD"})),
    ("€", frozenset({"EUR"})),
)
_CODE = re.compile(r"(?<![a-z])([a-z]{3})(?![a-z])")
_NUMBER = re.compile(r"^[+]?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?$")
COUNTRY_CURRENCY = {"JP": "JPY", "CN": "CNY", "TW": "TWD", "US": "USD", "HK": "HKD"}


class AmountError(ValueError):
    """An amount cell that can't be read; the message never quotes it."""


def parse_amount(text: str, country: str | None) -> tuple[Decimal, str | None]:
    """``¥30,000``, ``30,000円``, ``3万円``, ``NT$1,200``, ``1200 TWD`` → (amount, currency
    when the cell says it). ``country`` settles a sign several currencies share (¥, 元, $)."""
    rest = unicodedata.normalize("NFKC", text).casefold().replace(" ", "")
    candidates: frozenset[str] | None = None
    for sign, currencies in _SIGNS:
        if sign in rest:
            rest = rest.replace(sign, "")
            candidates = currencies if candidates is None else candidates & currencies
    code = _CODE.search(rest)
    if code:
        rest = rest.replace(code.group(1), "")
        upper = frozenset({code.group(1).upper()})
        candidates = upper if candidates is None else candidates & upper
    multiplier = Decimal(1)
    if rest.endswith("万") or rest.endswith("萬"):
        multiplier, rest = Decimal(10000), rest[:-1]
    match = _NUMBER.match(rest)
    if not match:
        raise AmountError("is not an amount like 30000, 30,000円 or ¥30,000")
    try:
        amount = Decimal(match.group(0).replace(",", "")) * multiplier
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise AmountError("is not an amount like 30000, 30,000円 or ¥30,000") from exc
    if candidates is None:
        return amount, None
    if not candidates:
        raise AmountError("names two different currencies")
    if len(candidates) == 1:
        return amount, next(iter(candidates))
    local = COUNTRY_CURRENCY.get((country or "").upper())
    if local in candidates:
        return amount, local
    raise AmountError(
        f"has a currency sign that could mean {' or '.join(sorted(candidates))}; "
        "add a demand.currency column"
    )
