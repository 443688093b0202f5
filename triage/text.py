"""The one text preparation shared by the safety layer and the model.

:func:`prepare` is :func:`knowledge.text.normalize` (NFKC, traditional →
simplified, lower case, no control characters) followed by a small pinyin
table: a child who cannot type characters writes "wo zhao bu dao ma ma le",
and both layers should read 找不到 妈妈. Only multi-syllable phrases that
matter for triage are mapped (a lone "wo" or "le" is left alone), and only
as whole words, so English text is not touched.
"""

from __future__ import annotations

import re

from knowledge.text import normalize, squeeze_cjk_spaces

PINYIN = {
    "bu xiang huo": "不想活",
    "huo bu xia qu": "活不下去",
    "xiang si": "想死",
    "zi sha": "自杀",
    "zi can": "自残",
    "ge wan": "割腕",
    "an mian yao": "安眠药",
    "yi shu": "遗书",
    "tian tai": "天台",
    "lou ding": "楼顶",
    "tiao lou": "跳楼",
    "jin wan": "今晚",
    "xian zai": "现在",
    "gang cai": "刚才",
    "gang gang": "刚刚",
    "zheng zai": "正在",
    "ma shang": "马上",
    "zuo wan": "昨晚",
    "zuo tian": "昨天",
    "jiu ming": "救命",
    "jiu jiu wo": "救救我",
    "zhao bu dao": "找不到",
    "zou diu": "走丢",
    "wo mi lu le": "我迷路了",
    "wo zou diu le": "我走丢了",
    "zou shi": "走失",
    "mi lu": "迷路",
    "bu jian le": "不见了",
    "ma ma": "妈妈",
    "ba ba": "爸爸",
    "hai zi": "孩子",
    "di di": "弟弟",
    "mei mei": "妹妹",
    "da wo": "打我",
    "qiang jian": "强奸",
    "bei ren qiang po le": "被人强迫了",
    "bei qiang po le": "被强迫了",
    "qiang po": "强迫",
    "xing qin": "性侵",
    "wei xie": "猥亵",
    "jia bao": "家暴",
    "ba ling": "霸凌",
    # found by cross-validation on the training split: pinyin reds the layers could not read
    "yi jing": "已经",
    "chi le": "吃了",
    "hen duo": "很多",
    "hao duo": "好多",
    "dao pian": "刀片",
    "zhun bei hao": "准备好",
    "jin tian wan shang": "今天晚上",
    "jiu jie shu": "就结束",
    "jie shu": "结束",
    "gen zhe wo": "跟着我",
    "shu shu": "叔叔",
    "yi zhi": "一直",
    "ba wo": "把我",
    "guan zai": "关在",
    "suo zai": "锁在",
    "you ren": "有人",
    "zou san le": "走散了",
    "zou san": "走散",
    "gen ba ba": "跟爸爸",
    "gen ma ma": "跟妈妈",
    "bei ren gen zong": "被人跟踪",
    "gen zong": "跟踪",
    "bang wo": "帮我",
    "wo bei": "我被",
    "fang jian": "房间",
    "hui jia de lu": "回家的路",
    "bei suo": "被锁",
    "bei guan": "被关",
    "gang chi le": "刚吃了",
    "yi da ba yao": "一大把药",
    "tou hao yun": "头好晕",
    "mei qi wei": "煤气味",
    "mei qi": "煤气",
    "ran qi": "燃气",
    "tou hen yun": "头很晕",
    "tou yun": "头晕",
    "shui bu xing": "睡不醒",
    "jiao bu xing": "叫不醒",
}
_PINYIN_RE = re.compile(
    r"(?<![a-z])(?:" + "|".join(r" ?".join(k.split()) for k in sorted(PINYIN, key=len, reverse=True)) + r")(?![a-z])"
)
_PINYIN_LOOKUP = {k.replace(" ", ""): v for k, v in PINYIN.items()}


def _pinyin(match: re.Match[str]) -> str:
    return _PINYIN_LOOKUP[match.group(0).replace(" ", "")]


def prepare(text: str) -> str:
    """Normalized text with the triage pinyin phrases written in characters."""
    normalized = normalize(text)
    if not normalized.isascii() and " " not in normalized:
        return normalized
    return squeeze_cjk_spaces(_PINYIN_RE.sub(_pinyin, normalized))
