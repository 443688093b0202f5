from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import triage
from triage.classifier import Classifier, decide_urgency
from triage.labels import Category, Urgency
from triage.model import ARTIFACT_DIR, FastScorer, ModelVersionError, load_artifact


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load()


def test_verdict_shape(classifier: Classifier) -> None:
    verdict = classifier.classify("我在楼顶上，不想活了")
    assert verdict.urgency is Urgency.RED and verdict.category is Category.SUICIDE_SELFHARM
    assert 0.0 <= verdict.confidence <= 1.0
    assert math.isclose(sum(v for k, v in verdict.scores.items() if k.startswith("urgency:")), 1.0, abs_tol=1e-3)
    assert verdict.signals
    assert set(verdict.to_dict()) == {"urgency", "category", "confidence", "signals"}


def test_safety_layer_raises_never_lowers(classifier: Classifier) -> None:
    verdict = classifier.classify("哈哈哈笑死我了")
    assert verdict.urgency in (Urgency.BLUE, Urgency.YELLOW)
    raised = classifier.classify("我妹妹刚才在超市门口被一个陌生人抱走了")
    assert raised.urgency is Urgency.RED and raised.category is Category.MISSING


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "家" * 100_000,
        "\x00\x01\x1b[31m\x7f",
        "😀😭🙏🏻🔥" * 50,
        "hello 你好 こんにちは مرحبا Привет 123",
        "\ud800",
        "<script>alert(1)</script>",
        "]]>",
    ],
)
def test_bad_input_gets_a_valid_verdict(classifier: Classifier, text: str) -> None:
    verdict = classifier.classify(text)
    assert isinstance(verdict.urgency, Urgency) and isinstance(verdict.category, Category)


def test_fast_scorer_matches_the_estimator() -> None:
    model, _ = load_artifact()
    scorer = FastScorer(model)
    texts = ["我爸一喝酒就打我", "網吧可以讓未成年人進嗎", "作业好多 emo了😭", "", "wo bu xiang huo le"]
    urgency, category = model.predict_proba(texts)
    for i, text in enumerate(texts):
        fast_u, fast_c = scorer.proba(text)
        assert np.allclose([fast_u[str(c)] for c in model.urgency_.classes_], urgency[i], atol=1e-5)
        assert np.allclose([fast_c[str(c)] for c in model.category_.classes_], category[i], atol=1e-5)


def test_decide_urgency_uses_cumulative_thresholds() -> None:
    thresholds = {"red": 0.4, "orange": 0.5, "yellow": 0.5}
    assert decide_urgency({"red": 0.45, "orange": 0.1, "yellow": 0.2, "blue": 0.25}, thresholds)[0] is Urgency.RED
    assert decide_urgency({"red": 0.3, "orange": 0.25, "yellow": 0.2, "blue": 0.25}, thresholds)[0] is Urgency.ORANGE
    assert decide_urgency({"red": 0.0, "orange": 0.1, "yellow": 0.2, "blue": 0.7}, thresholds)[0] is Urgency.BLUE


def test_artifact_is_one_small_directory_with_metadata() -> None:
    names = {p.name for p in ARTIFACT_DIR.iterdir()}
    assert {"pipeline.joblib", "userdict.txt", "metadata.json"} <= names
    assert sum(p.stat().st_size for p in ARTIFACT_DIR.iterdir()) < 20 * 1024 * 1024
    meta = json.loads((ARTIFACT_DIR / "metadata.json").read_text(encoding="utf-8"))
    assert {"versions", "urgency_labels", "category_labels", "training_data_sha256", "trained_at"} <= set(meta)


def test_version_mismatch_says_how_to_retrain(tmp_path: Path) -> None:
    for path in ARTIFACT_DIR.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    meta = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))
    meta["versions"]["scikit-learn"] = "0.0.1"
    (tmp_path / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelVersionError, match="humiao train"):
        load_artifact(tmp_path)


def test_module_level_classify() -> None:
    assert triage.classify("孤儿基本生活费标准是多少？").urgency in (Urgency.BLUE, Urgency.YELLOW)


def test_batch_equals_one_by_one(classifier: Classifier) -> None:
    texts = ["我爸一喝酒就打我", "笑死", "", "今晚药已经买好了不想活了", "网吧让初中生通宵上网" * 30]
    batch = classifier.classify_batch(texts)
    single = [classifier.classify(t) for t in texts]
    assert [(v.urgency, v.category, v.signals) for v in batch] == [(v.urgency, v.category, v.signals) for v in single]
    assert all(abs(a.confidence - b.confidence) < 1e-3 for a, b in zip(batch, single, strict=True))


def test_batch_scorer_matches_the_estimator() -> None:
    model, _ = load_artifact()
    scorer = FastScorer.load(ARTIFACT_DIR / "scorer.npz")
    texts = ["我爸一喝酒就打我", "網吧可以讓未成年人進嗎", "", "wo bu xiang huo le", "作业好多 emo了😭" * 20]
    from triage.text import prepare

    urgency, category = model.predict_proba(texts)
    fast_u, fast_c = scorer.proba_batch_normalized([prepare(t) for t in texts])
    assert np.allclose(fast_u, urgency, atol=1e-4) and np.allclose(fast_c, category, atol=1e-4)


def test_serving_imports_no_sklearn_and_no_gateway() -> None:
    import subprocess
    import sys

    code = (
        "import sys, triage; v = triage.classify('今晚药已经买好了'); "
        "bad = [m for m in ('sklearn', 'aiohttp', 'sqlalchemy', 'wechatpy') if m in sys.modules]; "
        "assert not bad, bad; print(v.urgency)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "red"


def test_long_message_urgency_from_the_most_severe_part_category_from_the_whole() -> None:
    from triage.classifier import WINDOW_RED, _decisive

    whole = ({"red": 0.1, "orange": 0.2, "yellow": 0.5, "blue": 0.2}, {"education": 0.9})
    severe = ({"red": 0.4, "orange": 0.5, "yellow": 0.1, "blue": 0.0}, {"family_violence": 0.9})
    # a more severe window raises the urgency, but the story is still about schooling
    assert _decisive([whole, severe]) == (severe[0], whole[1])
    red = ({"red": WINDOW_RED + 0.05, "orange": 0.1, "yellow": 0.0, "blue": 0.0}, {"suicide_selfharm": 0.9})
    assert _decisive([whole, severe, red]) is red  # a buried, clearly red sentence decides both
    assert _decisive([whole]) is whole


def test_violence_rule_keeps_the_models_category_of_harm() -> None:
    from triage.text import prepare

    rule = Classifier(None, {"red": 0.5, "orange": 0.5, "yellow": 0.5})  # type: ignore[arg-type]
    text = prepare("他们现在在厕所里围着我打")
    low = {"red": 0.05, "orange": 0.1, "yellow": 0.15, "blue": 0.7}
    school = rule.verdict(text, (low, {"school_violence": 0.6, "family_violence": 0.3, "other": 0.1}))
    assert school.urgency is Urgency.RED and school.category is Category.SCHOOL_VIOLENCE
    unknown = rule.verdict(text, (low, {"other": 0.6, "family_violence": 0.3, "school_violence": 0.1}))
    assert unknown.urgency is Urgency.RED and unknown.category is Category.FAMILY_VIOLENCE


def test_a_teacher_keeping_a_child_after_school_is_not_red(classifier: Classifier) -> None:
    # A known false red of the issue-3 model (sexual_abuse 0.45): being kept after class is not a danger by itself.
    assert classifier.classify("我们班主任让我今天放学留下来").urgency is not Urgency.RED
    assert classifier.classify("老师刚才放学把我留在办公室锁了门，还摸我").urgency is Urgency.RED


def test_blue_confidence_is_the_probability_of_blue_not_one() -> None:
    from triage.classifier import decide_urgency

    level, confidence = decide_urgency(
        {"red": 0.05, "orange": 0.1, "yellow": 0.15, "blue": 0.7}, {"red": 0.5, "orange": 0.5, "yellow": 0.5}
    )
    assert level is Urgency.BLUE and confidence == pytest.approx(0.7)
