"""Programming sweeps: cells are checked before any model is loaded."""

import pytest

from imssa.study.params import validate_params
from imssa.study.programming import deployable, sweep_cell


def test_sweep_cells_reject_unknown_keys_and_unseeded_cells_before_any_work():
    cfg = validate_params("hardware_deployment", {})
    with pytest.raises(ValueError, match="unknown keys in sweep cell: \\['sigma'\\]"):
        sweep_cell(cfg, {"bits": 2, "sigma": 5.0}, [(0, 0)], 1)
    with pytest.raises(ValueError, match="needs a seed"):
        sweep_cell(cfg, {"bits": 2, "stuck_at_gmax": 0.01}, [(0, 0)], 1)
    with pytest.raises(ValueError, match="periphery"):
        deployable(cfg, 2, 0, 0, periphery="ideal")


def test_technology_cells_are_checked_before_any_model_is_loaded():
    cfg = validate_params("device_technologies", {})
    with pytest.raises(ValueError, match="noise_model must be one of"):
        sweep_cell(
            cfg,
            {"bits": 2, "technology": "pcm_joshi2020", "noise_model": "pink"},
            [(0, 0)],
            1,
            seed=0,
        )
    with pytest.raises(ValueError, match="unknown preset 'flash'"):
        sweep_cell(cfg, {"bits": 2, "technology": "flash"}, [(0, 0)], 1, seed=0)
