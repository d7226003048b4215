"""The sentences chapters show whose words depend on a result: each branch, once."""

import numpy as np
import pandas as pd
import pytest

from imssa.stats.verdicts import FAILS, HOLDS, NOT_RESOLVED
from imssa.study import sentences as say
from imssa.study.claims import NO_WORKING_MODEL, NOT_IN_SWEEP, without_working_models


def test_the_training_sentence_says_when_both_rates_agree():
    assert "(the same value" in say.training_text(10, 32, 1e-3, 1e-3, 0.01)
    assert "(the same value" not in say.training_text(10, 32, 1e-3, 1e-4, 0.01)


def test_the_choices_sentence_names_the_axes_that_disagree_and_the_binding_budgets():
    chosen = pd.DataFrame(
        {
            "parameter": ["lr", "epochs"],
            "agrees": [True, False],
            "budget binds": [False, True],
            "budget": ["", "40"],
        }
    )
    text = say.choices_text(chosen)
    assert (
        "does not hold the validation choice: epochs." in text
        and "For epochs, the budget (40) binds" in text
    )
    assert say.choices_text(chosen.assign(agrees=True, **{"budget binds": False})).startswith(
        "Every value"
    )
    with pytest.raises(ValueError, match="budget"):
        say.choices_text(chosen.drop(columns="budget"))


def test_the_unstable_share_names_the_physical_window_and_the_ranges():
    text = say.unstable_share_text(pd.Series({"physical": 0.1, "mapping": 0.25}))
    assert "physical window, 10.0%" in text and "mapping range, 25.0%" in text


def test_left_out_models_and_configurations_without_one():
    assert say.left_out_text(0, 4, 0.5, 100, []).endswith("keeps at least one working model.")
    assert "(2, 0.85)" in say.left_out_text(2, 4, 0.5, 100, [(2, 0.85)])


def test_predictions_are_tallied_or_said_to_be_absent():
    cmp = pd.DataFrame(
        {"old vs measured": ["below", "inside"], "new vs measured": ["inside", "inside"]}
    )
    text = say.predictions_text(cmp, ["old", "new"], 3.0)
    assert "old prediction lies 1 below, 1 inside, 0 above" in text and "3 times" in text
    assert say.predictions_text(cmp.iloc[:0], ["old", "new"], np.nan).startswith("No configuration")


def test_the_real_zeros_sentence_picks_the_sigma_of_the_largest_gain():
    zeros = pd.DataFrame(
        {
            "unstable_full": [0.1, 0.5],
            "unstable_zeros": [0.1, 0.2],
            "predicted_full": [0.1, 0.4],
            "predicted_zeros": [0.1, 0.2],
            "only_full": [0, 3],
            "only_zeros": [0, 0],
        },
        index=pd.Index([5.0, 15.0], name="sigma_uS"),
    )
    assert "σ = 15 µS the unstable share goes from 50% to 20%" in say.real_zeros_text(zeros, 0.25)
    same = zeros.assign(unstable_zeros=zeros["unstable_full"], only_full=0)
    assert say.real_zeros_text(same, 0.25).endswith(
        "changes no programming's stability at these σ."
    )


def test_the_paper_pattern_and_the_caps_at_which_each_claim_holds():
    pairs = pd.DataFrame(
        {
            "tolerates: r_max": [0.85, 0.999],
            "suffers: r_max": [0.999, 0.999],
            "both_hold": [True, False],
        }
    )
    assert "capped at 0.85 and the 5-bit model's at 0.999" in say.paper_pattern_text(pairs)
    assert say.paper_pattern_text(pairs.assign(both_hold=False)).startswith("**No pair")
    claims = pd.DataFrame(
        {
            "kind": ["tolerates", "tolerates", "suffers"],
            "r_max": [0.85, 0.999, 0.85],
            "verdict": [HOLDS, FAILS, NOT_RESOLVED],
        }
    )
    assert say.claim_caps_text(claims, "tolerates", "c") == "The claim 'c' holds at the caps 0.85."
    assert (
        say.claim_caps_text(claims, "suffers", "c") == "The claim 'c' holds at no cap of this run."
    )
    absent = claims.assign(verdict=NOT_IN_SWEEP)
    assert "not in the sweep" in say.claim_caps_text(absent, "suffers", "c")


def test_which_knob_orders_the_tolerance_and_the_drop_at_the_first_failing_sigma():
    assert "the margin orders" in say.orders_tolerance_text(4.0, 1.0)
    assert "the bit width orders" in say.orders_tolerance_text(1.0, 4.0)
    assert (
        "neither orders" in say.orders_tolerance_text(2.0, 2.0)
        and say.orders_tolerance_text(np.nan, 1.0) == ""
    )
    assert say.failing_sigma_text(3, 1, 10, np.nan).endswith("score at chance.")
    assert "beyond the 2 points" in say.failing_sigma_text(3, 1, 10, 4.0)


def test_configurations_without_a_working_model_are_marked_not_judged():
    claims = pd.DataFrame({"bits": [2, 5], "r_max": [0.85, 0.85], "verdict": [HOLDS, FAILS]})
    out = without_working_models(claims, {(5, 0.85)}, ["bits", "r_max"])
    assert list(out["verdict"]) == [HOLDS, NO_WORKING_MODEL] and list(claims["verdict"]) == [
        HOLDS,
        FAILS,
    ]


def test_deployable_and_heidelberg_sentences():
    assert say.deployable_text([]) == "Every technology holds every model."
    assert "5-bit on pcm (8 states)" in say.deployable_text([("pcm", 5, 8)])
    assert say.where_text(float("nan")) == "in software" and say.where_text(15.0) == "at 15 uS"
    assert "is present" in say.heidelberg_text(True) and "not present" in say.heidelberg_text(False)


#: cells that still choose their words by a condition, per chapter (a ratchet: lower a number
#: when a cell loses its choice, never raise one).
WORD_CHOICES_LEFT: dict[str, int] = {}

CHAPTERS = [
    "s4d_first_principles",
    "float_baseline",
    "fixed_range_qat",
    "crossbar_mapping",
    "hardware_deployment",
    "periphery",
    "stability_margin",
    "state_memory",
    "memory_programming",
    "device_technologies",
    "quantization_strategy",
    "depth_scale",
    "reproduction_report",
]


def _is_text(node) -> bool:
    import ast

    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def word_choices(source: str) -> list[str]:
    """The conditional expressions of a cell that choose the words it shows: one inside a
    ``Markdown(...)`` call, or, in a cell that shows Markdown, one whose branch is a string
    (``"a" if x else "b"``). Labels of a plot are not sentences."""
    import ast

    tree = ast.parse(source)
    shown = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Markdown"
    ]
    inside = {id(x) for call in shown for x in ast.walk(call) if isinstance(x, ast.IfExp)}
    return [
        ast.unparse(n)[:60]
        for n in ast.walk(tree)
        if isinstance(n, ast.IfExp)
        and (id(n) in inside or (shown and (_is_text(n.body) or _is_text(n.orelse))))
    ]


def test_the_word_choice_check_sees_a_ternary_in_a_cell():
    assert word_choices('Markdown("a" if x else f"{y}")')
    assert word_choices('more = "n" if a == b else "m"\nMarkdown(more)')
    assert not word_choices('ax.set_title("n" if a else "m")')
    assert not word_choices("gap = f(x) if c else None\nMarkdown(text(gap))")
    assert not word_choices(
        'Markdown(", ".join(s for s in xs if s))'
    )  # a filter chooses rows, not words


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_chapter_cell_chooses_the_words_it_shows(chapter):
    """A sentence whose words depend on a result comes from the library (this module, or the
    chapter's own), never from a conditional in the cell."""
    from pathlib import Path

    import jupytext

    book = Path(__file__).resolve().parents[1] / "book"
    cells = [c.source for c in jupytext.read(book / f"{chapter}.md").cells if c.cell_type == "code"]
    left = [w for c in cells for w in word_choices(c)]
    assert len(left) <= WORD_CHOICES_LEFT.get(chapter, 0), f"{chapter}: {left}"
