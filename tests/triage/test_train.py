from __future__ import annotations

import numpy as np

from bot.cli import build_parser
from triage.labels import Category, Urgency, Verdict
from triage.models.train import COST, Example, score, tune_thresholds


def test_eval_has_a_cross_validation_mode() -> None:
    args = build_parser().parse_args(["eval", "--cv", "--folds", "3"])
    assert args.cv and args.folds == 3


def test_cost_matrix_makes_red_under_triage_the_worst_error() -> None:
    red = COST[Urgency.RED.rank]
    assert red[Urgency.BLUE.rank] > red[Urgency.YELLOW.rank] > COST[:3].max()
    assert red[Urgency.ORANGE.rank] > np.triu(COST, 1).max()  # red->orange costs more than any over-triage
    assert all(COST[i, i] == 0 for i in range(4))


def test_thresholds_respect_the_safety_floor() -> None:
    gold = ["red", "blue", "yellow", "orange"]
    probas = [
        {"red": 0.05, "orange": 0.05, "yellow": 0.1, "blue": 0.8},  # a red only the safety layer sees
        {"red": 0.0, "orange": 0.0, "yellow": 0.1, "blue": 0.9},
        {"red": 0.0, "orange": 0.1, "yellow": 0.7, "blue": 0.2},
        {"red": 0.1, "orange": 0.7, "yellow": 0.1, "blue": 0.1},
    ]
    floors = [Urgency.RED, Urgency.BLUE, Urgency.BLUE, Urgency.BLUE]
    thresholds = tune_thresholds(gold, probas, floors)
    assert {"red", "orange", "yellow", "red_guard"} <= set(thresholds)
    assert np.isfinite(list(thresholds.values())).all()


def test_score_counts_red_graded_blue_or_yellow() -> None:
    examples = [Example("a", "red", "other"), Example("b", "red", "other"), Example("c", "blue", "other")]
    verdicts = [
        Verdict(Urgency.YELLOW, Category.OTHER, 1.0),
        Verdict(Urgency.RED, Category.OTHER, 1.0),
        Verdict(Urgency.RED, Category.OTHER, 1.0),
    ]
    result = score(examples, verdicts)
    assert result.red_as_blue_or_yellow == 1 and result.red_recall == 0.5 and result.red_precision == 0.5


def test_train_can_skip_the_held_out_split() -> None:
    assert build_parser().parse_args(["train", "--no-heldout"]).no_heldout is True
    assert build_parser().parse_args(["train"]).no_heldout is False


def test_thresholds_grade_no_red_blue_or_yellow_even_when_it_costs_accuracy() -> None:
    from triage.classifier import decide_urgency

    # 30 yellow messages and one red message that the model scores alike (P(red) 0.22, P(yellow) 0.56):
    # the cost alone would leave the red yellow; the constraint raises all 31 to orange.
    alike = {"red": 0.22, "orange": 0.12, "yellow": 0.56, "blue": 0.10}
    plain_red = {"red": 0.9, "orange": 0.05, "yellow": 0.05, "blue": 0.0}
    gold = ["red"] + ["yellow"] * 30 + ["red"]
    probas = [alike] * 31 + [plain_red]
    thresholds = tune_thresholds(gold, probas)
    assert decide_urgency(alike, thresholds)[0].rank >= Urgency.ORANGE.rank
    assert decide_urgency(plain_red, thresholds)[0] is Urgency.RED


def test_thresholds_fall_back_to_the_cheapest_when_no_point_saves_every_red() -> None:
    from triage.classifier import decide_urgency

    hopeless = {"red": 0.0, "orange": 0.0, "yellow": 0.0, "blue": 1.0}  # no threshold reaches it
    gold = ["red", "blue", "yellow"]
    probas = [
        hopeless,
        {"red": 0.0, "orange": 0.0, "yellow": 0.1, "blue": 0.9},
        {"red": 0.0, "orange": 0.1, "yellow": 0.8, "blue": 0.1},
    ]
    thresholds = tune_thresholds(gold, probas)
    assert decide_urgency(probas[1], thresholds)[0] is Urgency.BLUE


def _reds_and_look_alikes(look_alikes: int) -> tuple[list[str], list[dict[str, float]]]:
    """100 plain reds, 2 reds the model scores like `look_alikes` orange messages (P(red) 0.3)."""
    plain_red = {"red": 0.9, "orange": 0.1, "yellow": 0.0, "blue": 0.0}
    alike = {"red": 0.3, "orange": 0.6, "yellow": 0.1, "blue": 0.0}
    gold = ["red"] * 100 + ["red"] * 2 + ["orange"] * look_alikes
    return gold, [plain_red] * 100 + [alike] * (2 + look_alikes)


def test_thresholds_keep_the_red_recall_margin_when_precision_allows() -> None:
    from triage.classifier import decide_urgency

    # Cost alone: raising the 2 reds costs 10 false reds (10 × 1) for 2 saved (2 × 4), so they stay orange
    # and red recall is 100/102 = 0.980 < 0.99; the margin raises them (red precision 102/112 = 0.91).
    gold, probas = _reds_and_look_alikes(10)
    thresholds = tune_thresholds(gold, probas)
    assert decide_urgency(probas[-1], thresholds)[0] is Urgency.RED
    assert tune_thresholds(gold, probas, min_red_recall=0.0)["red"] > 0.3  # the cost alone would not


def test_thresholds_drop_the_recall_margin_rather_than_flood_red() -> None:
    from triage.classifier import decide_urgency

    # With 40 look-alikes the margin would cost red precision 102/142 = 0.72 < 0.84: the reds stay orange.
    gold, probas = _reds_and_look_alikes(40)
    thresholds = tune_thresholds(gold, probas)
    assert decide_urgency(probas[-1], thresholds)[0] is Urgency.ORANGE


def test_thresholds_without_a_safe_point_grade_the_fewest_reds_low() -> None:
    from triage.classifier import decide_urgency

    # One red no threshold can reach, and one the red guard lifts to orange only with 20 yellow look-alikes
    # (cost 20 × 1 against 20 - 4 saved, so the cost alone leaves it yellow): with no point saving every red,
    # the last resort grades the fewest reds blue or yellow, so it still lifts the one it can.
    hopeless = {"red": 0.0, "orange": 0.0, "yellow": 0.0, "blue": 1.0}
    liftable = {"red": 0.09, "orange": 0.0, "yellow": 0.81, "blue": 0.1}
    gold = ["red", "red"] + ["yellow"] * 20 + ["red"] * 5
    probas = [hopeless] + [liftable] * 21 + [{"red": 0.9, "orange": 0.1, "yellow": 0.0, "blue": 0.0}] * 5
    thresholds = tune_thresholds(gold, probas)
    assert decide_urgency(liftable, thresholds)[0].rank >= Urgency.ORANGE.rank
