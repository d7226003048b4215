"""One seed function: every model its own programming noise, every variant of a model the same."""

import numpy as np
import pytest
import torch

from imssa.hardware.deploy import deployed_weights
from imssa.hardware.devices import DeviceConfig
from imssa.model.config import ModelConfig, QuantConfig
from imssa.model.train import SpeechClassifier
from imssa.seeds import draw_seed
from imssa.study.params import ScaleParams, Strategy
from imssa.study.programming import model_draw_seed
from imssa.study.scale import Spec, spec_seed_at
from imssa.study.strategy import strategy_seed_at


def test_draw_seed_is_stable_and_refuses_what_it_cannot_write():
    assert draw_seed("a", 2, 5.0) == draw_seed("a", 2.0, np.int64(5)) == draw_seed(("a", 2), 5)
    assert draw_seed("a", 2, 5.0) != draw_seed("a", 2, 5.01) and 0 <= draw_seed("x") < 2**63
    with pytest.raises(TypeError, match="strings, numbers or None"):
        draw_seed("a", [1, 2])
    with pytest.raises(ValueError):
        draw_seed()


def test_two_models_of_one_point_draw_different_noise_and_variants_the_same():
    point = {"bits": 2, "sigma_uS": 15.0}
    assert model_draw_seed(point, 0, 0) != model_draw_seed(point, 0, 1)  # another fold: another model
    assert model_draw_seed(point, 0, 0) != model_draw_seed(point, 1, 0)  # another training seed
    assert model_draw_seed(point, 0, 0) != model_draw_seed(point | {"bits": 5}, 0, 0)
    for variant in ({"layout": "dense"}, {"periphery": "ideal"}, {"technology": "rram"}, {"clip": "mapping"}):
        assert model_draw_seed(point | variant, 0, 0) == model_draw_seed(point, 0, 0)
    a, b = (Strategy(name=n) for n in ("plain", "capped"))
    assert strategy_seed_at(21, a, 0, 0, "test")(5.0) != strategy_seed_at(21, b, 0, 0, "test")(5.0)
    assert strategy_seed_at(21, a, 0, 0, "test")(5.0) != strategy_seed_at(21, a, 0, 1, "test")(5.0)
    s, cfg = Spec("binary", "complex", 1, 4, 2), ScaleParams()
    assert spec_seed_at(cfg, s, 0, 0)(5.0) != spec_seed_at(cfg, s._replace(depth=2), 0, 0)(5.0)


def test_the_programmed_noise_follows_the_seed():
    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=2, N=2, quant=QuantConfig(bits=2, fscale=0.6)), n_classes=2)
    dev = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, sigma_uS=10.0)
    one, other = (model_draw_seed({"bits": 2, "sigma_uS": 10.0}, 0, f) for f in (0, 1))
    W = deployed_weights(net, dev, 2, one)
    assert torch.equal(W, deployed_weights(net, dev, 2, one))
    assert not torch.equal(W, deployed_weights(net, dev, 2, other))
