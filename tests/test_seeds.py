"""One seed function: every model its own programming noise, every variant of a model the same."""

from pathlib import Path

import numpy as np
import pytest
import torch

from imssa.hardware.deploy import deployed_weights
from imssa.hardware.devices import DeviceConfig
from imssa.model.config import ModelConfig, QuantConfig
from imssa.model.train import SpeechClassifier
from imssa.seeds import draw_seed
from imssa.study.deployment_arrays import DEFAULT_ARRAY, EMULATION_VARIANTS
from imssa.study.params import ScaleParams, Strategy, load_params
from imssa.study.periphery_designs import cell_defaults, design_cells, design_keys, technology_cells
from imssa.study.programming import LABEL_KEYS, model_draw_seed
from imssa.study.scale import Spec, spec_seed_at
from imssa.study.strategy import strategy_seed_at

PERIPHERY = load_params("periphery", Path(__file__).parents[1] / "params" / "ci" / "periphery.yaml")
#: What names one trained model and its noise level in a cell: the keys ``model_draw_seed`` reads.
IDENTITY = ("bits", "r_max", "sigma_uS")
#: Variant keys that only the chapters' cells write (no library builder holds them): the structural
#: zeros of the stability margin, the constant-noise models of the device technologies.
BOOK_ONLY = ("real_zeros", "noise_model", "match")
#: A point of a sweep, as the chapters pass it (the margin study's models carry a pole cap).
POINT = {"bits": 2, "r_max": 0.95, "sigma_uS": 15.0}


def chapter_variants() -> dict[str, list]:
    """Every key the chapters vary between variants of one model, with the values they give it, read
    from the library's own cell builders: the deployment chapter's arrays (``DEFAULT_ARRAY``) and
    emulation factorial, the periphery chapter's designs, technologies and the device keys every
    one of its cells carries (``cell_defaults``), at the ci parameters; the labels of a cell
    (``LABEL_KEYS``) and ``BOOK_ONLY`` with no value of their own."""
    cells = [
        DEFAULT_ARRAY,
        *EMULATION_VARIANTS.values(),
        *design_keys(PERIPHERY).values(),
        *technology_cells(PERIPHERY),
        cell_defaults(PERIPHERY.emulation_device()),
    ]
    values: dict[str, list] = {key: [] for key in (*LABEL_KEYS, *BOOK_ONLY)}
    for cell in cells:
        for key, value in cell.items():
            if key not in IDENTITY and isinstance(value, (str, int, float, bool, type(None))):
                values.setdefault(key, []).append(value)
    return values


def test_draw_seed_is_stable_and_refuses_what_it_cannot_write():
    assert draw_seed("a", 2, 5.0) == draw_seed("a", 2.0, np.int64(5)) == draw_seed(("a", 2), 5)
    assert draw_seed("a", 2, 5.0) != draw_seed("a", 2, 5.01) and 0 <= draw_seed("x") < 2**63
    with pytest.raises(TypeError, match="strings, numbers or None"):
        draw_seed("a", [1, 2])
    with pytest.raises(ValueError, match="at least one part"):
        draw_seed()


def test_every_part_of_a_models_identity_draws_different_noise():
    one = model_draw_seed(POINT, 0, 0)
    assert one != model_draw_seed(POINT, 0, 1)  # another fold: another model
    assert one != model_draw_seed(POINT, 1, 0)  # another training seed
    assert one != model_draw_seed(POINT, 0, 0, base=29)  # another sweep's seed
    for key, other in zip(IDENTITY, (5, 0.9, 10.0), strict=True):
        assert one != model_draw_seed(POINT | {key: other}, 0, 0), key


@pytest.mark.parametrize("point", [POINT, {"bits": 2}], ids=["margin point", "step-mode point"])
def test_the_variants_the_chapters_compare_share_the_draws_of_their_model(point):
    """Each value a chapter gives a variant key, and two foreign values, leave the seed alone: a
    key that entered it (e.g. ``noise_clip``) would unpair the comparisons of its variants."""
    variants = chapter_variants()
    named = {"noise_clip", "devices_per_element", "layout", "periphery", "technology", "real_zeros"}
    assert named <= set(variants)
    one = model_draw_seed(point, 0, 0)
    for key, values in variants.items():
        for value in [*values, "another", 7.5]:
            assert model_draw_seed(point | {key: value}, 0, 0) == one, (key, value)


def test_the_periphery_chapters_designs_and_technologies_are_paired_on_one_models_draws():
    for cells in (design_cells(PERIPHERY), technology_cells(PERIPHERY)):
        assert len({model_draw_seed(c, 0, 0, base=29) for c in cells}) == 1


def test_strategies_and_specs_draw_their_own_noise():
    a, b = (Strategy(name=n) for n in ("plain", "capped"))
    one = strategy_seed_at(21, a, 0, 0, "test")(5.0)
    assert one != strategy_seed_at(21, b, 0, 0, "test")(5.0)  # another strategy
    assert one != strategy_seed_at(21, a, 0, 1, "test")(5.0)  # another fold
    assert one != strategy_seed_at(21, a, 0, 0, "val")(5.0)  # another split
    s, cfg = Spec("binary", "complex", 1, 4, 2), ScaleParams()
    assert spec_seed_at(cfg, s, 0, 0)(5.0) != spec_seed_at(cfg, s._replace(depth=2), 0, 0)(5.0)
    assert spec_seed_at(cfg, s, 0, 0)(5.0) != spec_seed_at(cfg, s, 0, 0)(10.0)


def test_the_programmed_noise_follows_the_seed():
    torch.manual_seed(0)
    net = SpeechClassifier(
        ModelConfig(H=2, N=2, quant=QuantConfig(bits=2, fscale=0.6)), n_classes=2
    )
    dev = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, sigma_uS=10.0)
    one, other = (model_draw_seed({"bits": 2, "sigma_uS": 10.0}, 0, f) for f in (0, 1))
    W = deployed_weights(net, dev, 2, one)
    assert torch.equal(W, deployed_weights(net, dev, 2, one))
    assert not torch.equal(W, deployed_weights(net, dev, 2, other))
