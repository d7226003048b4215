"""The periphery chapter's rules: its designs, their paired contrasts and the energy of each."""

import numpy as np
import pandas as pd
import pytest
import torch

from imssa.study import periphery_designs as P
from imssa.study import periphery_summaries as S
from imssa.study.params import load_params

CFG = load_params("periphery", "params/ci/periphery.yaml")


def test_every_design_changes_only_what_the_ladder_says_and_all_cells_share_their_keys():
    cells = {c["variant"]: c for c in P.design_cells(CFG)}
    assert list(cells) == list(P.DESIGN_BASE) and len({tuple(c) for c in cells.values()}) == 1
    changed = {
        d: {k for k in cells[d] if k != "variant" and cells[d][k] != cells[b][k]}
        for d, b in P.DESIGN_BASE.items()
        if b is not None
    }
    assert changed["per-column ranges"] == {"periphery"}
    assert changed["per column, noise per column"] == {"read_noise_model"}
    assert changed["per column, offsets and gain errors"] == {"adc_offset_sigma", "adc_gain_sigma"}
    assert changed[P.BEST] == {"calibration_reads"}
    assert changed["bit-serial inputs"] == {"input_encoding"}
    assert (
        "check_tolerance"
        in changed["check after programming"]
        <= {"check_tolerance", "check_max_rounds"}
    )
    assert (
        cells[P.LAYER]["read_noise"] == CFG.emulation_device().read_noise
    )  # filled from the emulated array
    with pytest.raises(ValueError, match="unknown designs"):
        P.design_cells(CFG, ["no such design"])


def rows(effect_points, spread_points=0.0, folds=6, seed=0):
    """Programmings of two designs, 'b' and 'a' = 'b' + effect, with fold-to-fold spread."""
    rng = np.random.default_rng(seed)
    out = []
    for f in range(folds):
        shift = effect_points / 100 + spread_points / 100 * rng.standard_normal()
        for r in range(3):
            base = 0.8 + 0.01 * r
            out += [
                {"variant": "b", "seed": 0, "fold": f, "realisation": r, "accuracy": base},
                {"variant": "a", "seed": 0, "fold": f, "realisation": r, "accuracy": base + shift},
            ]
    return pd.DataFrame(out)


@pytest.mark.parametrize(
    "effect, spread, word",
    [(10.0, 1.0, "above"), (-10.0, 1.0, "below"), (1.0, 20.0, "not resolved")],
)
def test_contrasts_are_paired_and_judged_by_their_holm_corrected_interval(effect, spread, word):
    out = S.design_contrasts(rows(effect, spread), {"b": None, "a": "b"}, "test family")
    r = out.iloc[0]
    assert r["design"] == "a" and r["changed from"] == "b" and r["verdict"] == word
    assert r["ci_low"] <= r["difference_points"] <= r["ci_high"] and r["p_sign_flip"] >= 1 / 32
    assert "test family (1 comparisons, Holm)" == r["family"]
    one = S.headline_contrast(
        rows(effect, spread).replace({"variant": {"a": P.BEST, "b": P.LAYER}})
    ).iloc[0]
    assert one["verdict"] == word and "p_holm" not in one  # a family of one: the t test's p


def test_the_design_summary_pairs_each_programming_with_its_own_model_in_software():
    r = rows(5.0).assign(failure="")
    software = pd.DataFrame({"seed": 0, "fold": range(6), "accuracy": 0.9})
    s = S.design_summary(r, software, n_test=100)
    assert s.loc["b", "gap_points"] == pytest.approx(9.0) and s.loc[
        "a", "gap_points"
    ] == pytest.approx(4.0)
    assert s.loc["a", "programmings"] == 18 and s.loc["a", "folds"] == 6


def test_energy_counts_the_designs_conversions_from_the_simulated_configuration(monkeypatch):
    from imssa.hardware.ranges import converter_ranges
    from imssa.model.config import ModelConfig, QuantConfig
    from imssa.model.train import SpeechClassifier

    torch.manual_seed(0)
    net = SpeechClassifier(
        ModelConfig(
            H=CFG.shared.model.H, N=CFG.shared.model.N, quant=QuantConfig(bits=2, fscale=0.6)
        ),
        2,
    ).eval()
    x = torch.randn(4, 100, generator=torch.Generator().manual_seed(0))

    def fake(cfg, bits, seed, fold, r_max, periphery, bit_serial=None):
        ranges = (
            {}
            if periphery == "unbounded"
            else converter_ranges(
                net, x, 1.1, per_column=periphery == "per_column", bit_serial_dac_bits=bit_serial
            )
        )
        return net, None, ranges

    monkeypatch.setattr(P, "deployable", fake)
    e = P.energy_rows(CFG, [P.LAYER, P.BEST, "bit-serial inputs"], 0, 0).set_index("variant")
    bits = CFG.emulation_device().dac_bits
    assert e.loc["bit-serial inputs", "adc_pJ"] == pytest.approx(
        (bits - 1) * e.loc[P.BEST, "adc_pJ"]
    )
    assert (
        e.loc[P.BEST, "digital_periphery_pJ"] > e.loc[P.LAYER, "digital_periphery_pJ"]
    )  # gains, correction
    assert (
        e.loc[P.LAYER, "dac_pJ"] > e.loc["bit-serial inputs", "dac_pJ"]
    )  # the assumed multi-level DAC
