from __future__ import annotations

from triage.text import prepare


def test_prepare_normalizes_and_maps_triage_pinyin() -> None:
    assert prepare("wo zhao bu dao ma ma le") == "wo 找不到妈妈 le"
    assert prepare("wo buxiang huo le") == "wo 不想活 le"
    assert prepare("藥已經買好了") == "药已经买好了"


def test_prepare_leaves_english_and_partial_words_alone() -> None:
    assert prepare("Mamamia, what a show") == "mamamia, what a show"
    assert prepare("") == ""
