"""Programming sweeps: cells are checked before any model is loaded."""

import pytest

from imssa.params import validate_params
from imssa.programming import deployable, sweep_cell


def test_sweep_cells_reject_unknown_keys_and_unseeded_cells_before_any_work():
    cfg = validate_params("hardware_deployment", {})
    with pytest.raises(ValueError, match="unknown keys in sweep cell: \\['sigma'\\]"):
        sweep_cell(cfg, {"bits": 2, "sigma": 5.0}, [(0, 0)], 1)
    with pytest.raises(ValueError, match="needs a seed"):
        sweep_cell(cfg, {"bits": 2, "stuck_at_gmax": 0.01}, [(0, 0)], 1)
    with pytest.raises(ValueError, match="periphery"):
        deployable(cfg, 2, 0, 0, periphery="ideal")
