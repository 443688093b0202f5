"""Label ids from ``taxonomy.md`` (the contract) and the verdict value."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Urgency(StrEnum):
    """Civil-affairs four-level grading (蓝 < 黄 < 橙 < 红)."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label_zh(self) -> str:
        return URGENCY_NAMES_ZH[self]

    @classmethod
    def ordered(cls) -> tuple[Urgency, ...]:
        return (cls.BLUE, cls.YELLOW, cls.ORANGE, cls.RED)


_RANK = {Urgency.BLUE: 0, Urgency.YELLOW: 1, Urgency.ORANGE: 2, Urgency.RED: 3}
URGENCY_NAMES_ZH = {Urgency.BLUE: "蓝色", Urgency.YELLOW: "黄色", Urgency.ORANGE: "橙色", Urgency.RED: "红色"}


class Category(StrEnum):
    SUICIDE_SELFHARM = "suicide_selfharm"
    FAMILY_VIOLENCE = "family_violence"
    SEXUAL_ABUSE = "sexual_abuse"
    SCHOOL_VIOLENCE = "school_violence"
    CYBER = "cyber"
    NEGLECT = "neglect"
    MISSING = "missing"
    EDUCATION = "education"
    EXPLOITATION = "exploitation"
    MENTAL_HEALTH = "mental_health"
    ENVIRONMENT = "environment"
    DELINQUENCY = "delinquency"
    POLICY = "policy"
    OTHER = "other"

    @property
    def label_zh(self) -> str:
        return CATEGORY_NAMES_ZH[self]


CATEGORY_NAMES_ZH = {
    Category.SUICIDE_SELFHARM: "自杀自伤",
    Category.FAMILY_VIOLENCE: "家庭暴力与监护侵害",
    Category.SEXUAL_ABUSE: "性侵害",
    Category.SCHOOL_VIOLENCE: "校园欺凌与暴力",
    Category.CYBER: "网络保护",
    Category.NEGLECT: "监护缺失",
    Category.MISSING: "走失与拐卖",
    Category.EDUCATION: "受教育权",
    Category.EXPLOITATION: "童工与剥削",
    Category.MENTAL_HEALTH: "心理困扰",
    Category.ENVIRONMENT: "成长环境",
    Category.DELINQUENCY: "罪错预防",
    Category.POLICY: "政策咨询",
    Category.OTHER: "其他",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The triage of one message."""

    urgency: Urgency
    category: Category
    confidence: float  # probability of the chosen urgency under the combined rule
    scores: dict[str, float] = field(default_factory=dict)  # per-label probabilities ("urgency:red", "category:cyber")
    signals: tuple[str, ...] = ()  # short reasons an operator can check ("手段: 安眠药", "时间: 今晚")

    def to_dict(self) -> dict[str, object]:
        return {
            "urgency": self.urgency.value,
            "category": self.category.value,
            "confidence": round(self.confidence, 4),
            "signals": list(self.signals),
        }
