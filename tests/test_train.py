"""Training: determinism, the optimizer groups, the cache keyed by the configuration."""

import pandas as pd
import pytest
import torch

from imssa.model.cache import restore_model, train_cached
from imssa.model.train import SpeechClassifier, make_optimizer, train_model
from imssa.study.params import DataConfig, ModelConfig, QuantConfig, TrainConfig

DATA = DataConfig(split="official", sample_rate=2000, duration_s=0.1, val_fraction=0.1)
MODEL = ModelConfig(H=4, N=2)
TRAIN = TrainConfig(epochs=2, batch_size=64)


def test_training_is_deterministic(fsdd_root):
    a = train_model(DATA.model_dump(), MODEL.model_dump(), TRAIN.model_dump(), progress=False)
    b = train_model(DATA.model_dump(), MODEL.model_dump(), TRAIN.model_dump(), progress=False)
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    assert a.history.equals(b.history) and list(a.history.columns[:2]) == ["epoch", "train_loss"]
    assert len(a.test_pred) == 60 and 0 <= a.test_accuracy <= 1
    assert len(a.val_pred) == 54 and a.val_accuracy == a.history["val_accuracy"].iloc[-1]
    assert len(a.test_clips) == 60 and a.test_clips[0].endswith(".wav") and a.failure == ""


def test_controls_memoryless_and_frozen(fsdd_root):
    memoryless = SpeechClassifier(ModelConfig(H=4, N=3, ssm="memoryless"), 2)
    p = memoryless.layers[0].discrete()
    assert torch.all(p.A_bar == 0) and torch.any(p.B_bar != 0)
    frozen = train_model(
        DATA.model_dump(),
        MODEL.model_copy(update={"ssm": "frozen"}).model_dump(),
        TRAIN.model_dump(),
        progress=False,
    )
    init = SpeechClassifier(
        MODEL.model_copy(update={"ssm": "frozen"}),
        2,
        generator=torch.Generator().manual_seed(TRAIN.seed),
    ).state_dict()
    for name in ("log_dt", "log_A_real", "A_imag", "B", "C"):
        assert torch.equal(frozen.state_dict[f"layers.0.{name}"], init[f"layers.0.{name}"])
    assert not torch.equal(frozen.state_dict["layers.0.D"], init["layers.0.D"])  # D is learned
    assert not torch.equal(frozen.state_dict["decoder.weight"], init["decoder.weight"])


def test_unstable_quantized_run_is_reported_not_kept(fsdd_root):
    """2-bit grid with fscale 1: its corner 1 + i lies outside the unit disc; without a pole cap the
    run stops and says why, with the pole cap it trains."""
    quant = QuantConfig(bits=2, range_mode="dynamic", fscale=1.0)
    model = ModelConfig(H=4, N=4, dt_min=0.25, dt_max=0.25, quant=quant)  # a mode at 45 degrees
    bad = train_model(DATA.model_dump(), model.model_dump(), TRAIN.model_dump(), progress=False)
    assert bad.failure == "unstable" and "|A_bar| >= 1" in bad.failure_reason
    assert bad.test_accuracy != bad.test_accuracy  # NaN, never a chance-level number
    capped = model.model_copy(update={"quant": quant.model_copy(update={"r_max": 0.95})})
    good = train_model(DATA.model_dump(), capped.model_dump(), TRAIN.model_dump(), progress=False)
    assert good.failure == "" and 0 <= good.test_accuracy <= 1


def test_cache_is_keyed_by_the_configuration(fsdd_root, tmp_path, monkeypatch):
    monkeypatch.setenv("IMSSA_CACHE_DIR", str(tmp_path))
    first = train_cached(DATA, MODEL, TRAIN, progress=False)
    again = train_cached(DATA, MODEL, TRAIN, progress=True)  # progress is not part of the key
    assert again.train_time_s == first.train_time_s  # a retrain would have timed itself anew
    other = train_cached(DATA, MODEL, TRAIN.model_copy(update={"seed": 1}), progress=False)
    assert other.train_time_s != first.train_time_s
    net = restore_model(MODEL, first, n_classes=2)
    assert torch.equal(net.decoder.weight, first.state_dict["decoder.weight"])


def test_ssm_parameters_have_their_own_group():
    net = SpeechClassifier(ModelConfig(H=4, N=2, depth=2), 2)
    opt = make_optimizer(net, TrainConfig(lr=1e-2, ssm_lr=1e-3, weight_decay=0.1))
    rest, ssm = opt.param_groups
    assert ssm["lr"] == 1e-3 and ssm["weight_decay"] == 0.0 and rest["weight_decay"] == 0.1
    assert len(ssm["params"]) == 2 * 4  # log_dt, log_A_real, A_imag, B per layer
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == sum(
        p.numel() for p in net.parameters()
    )
    frozen = SpeechClassifier(ModelConfig(H=4, N=2, ssm="frozen"), 2)
    rest, ssm = make_optimizer(frozen, TrainConfig()).param_groups
    assert ssm["params"] == [] and all(p.requires_grad for p in rest["params"])


def test_classifier_modes_agree_for_deep_models():
    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=4, N=3, depth=2), 3).eval()
    x = torch.randn(2, 300)
    with torch.no_grad():
        assert torch.allclose(net(x, mode="conv"), net(x, mode="recurrent"), atol=1e-5)


def test_range_equalisation_preserves_the_function_and_fills_the_range():
    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=4, N=5, depth=2), 2).double().eval()
    x = torch.randn(3, 400, dtype=torch.float64)
    before = net(x)
    net.equalize_ranges(0.7)
    assert torch.allclose(net(x), before, rtol=1e-9, atol=1e-12)
    p = net.layers[0].float_discrete()
    assert torch.allclose(p.B_bar.abs().amax(1), torch.full((4,), 0.7, dtype=torch.float64))
    assert torch.allclose(p.B_bar.abs(), p.C.abs())  # magnitude split evenly between B_bar and C


def test_resumable_grid_skips_finished_cells(tmp_path):
    from imssa.study.sweep import resumable_grid

    calls = []

    def compute(cell):
        calls.append(cell["sigma"])
        return [{"realisation": r, "accuracy": cell["sigma"] / 10 + r} for r in range(2)]

    cells = [{"bits": 2, "sigma": s} for s in (0.0, 2.5, 5.0)]
    first = resumable_grid(cells[:2], compute, tmp_path / "fig.csv")
    assert len(first) == 4 and calls == [0.0, 2.5]
    full = resumable_grid(cells, compute, tmp_path / "fig.csv")  # resumes: only the new cell runs
    assert calls == [0.0, 2.5, 5.0] and len(full) == 6
    assert list(full.columns) == ["bits", "sigma", "realisation", "accuracy"]
    assert full["sigma"].tolist() == [0.0, 0.0, 2.5, 2.5, 5.0, 5.0]  # the order of the cells
    # else {"bits": 2} would collide with every sigma
    with pytest.raises(ValueError, match="no default"):
        resumable_grid([{"bits": 2}, {"bits": 2, "sigma": 1.0}], compute, tmp_path / "other.csv")
    assert not (tmp_path / "other.csv").exists()
    # with a default the short cell is the one it stands for: it is already done
    again = resumable_grid(
        [{"bits": 2}, {"bits": 2, "sigma": 2.5}],
        compute,
        tmp_path / "fig.csv",
        defaults={"sigma": 5.0},
    )
    assert calls == [0.0, 2.5, 5.0] and again["sigma"].tolist() == [5.0, 5.0, 2.5, 2.5]


def test_resumable_grid_keeps_the_union_of_the_columns_its_cells_return(tmp_path):
    from imssa.study.sweep import resumable_grid

    def compute(cell):  # the second cell returns a column the first does not, and in another order
        extra = {"rounds": 3.0} if cell["check"] else {}
        return [extra | {"accuracy": 0.5 + cell["check"]}]

    path = tmp_path / "grid.csv"
    resumable_grid([{"check": 0}], compute, path)
    both = resumable_grid([{"check": 0}, {"check": 1}], compute, path)
    assert list(both.columns) == ["check", "accuracy", "rounds"]
    assert both["accuracy"].tolist() == [0.5, 1.5] and both["rounds"].isna().tolist() == [
        True,
        False,
    ]
    # columns in another order
    resumable_grid([{"check": 2}], lambda c: [{"rounds": 1.0, "accuracy": 9.0}], path)
    assert pd.read_csv(path).set_index("check").loc[2, "accuracy"] == 9.0


def _square_rows(cell):
    return [{"realisation": r, "value": cell["x"] ** 2 + r} for r in range(3)]


def test_resumable_grid_in_parallel_gives_the_serial_table(tmp_path):
    from imssa.study.sweep import resumable_grid

    cells = [{"x": float(x)} for x in range(6)]
    serial = resumable_grid(cells, _square_rows, tmp_path / "a.csv")
    parallel = resumable_grid(cells, _square_rows, tmp_path / "b.csv", workers=2)
    pd.testing.assert_frame_equal(serial, parallel)


def _model_rows(cell, models):
    """Rows of each model on its own draws (as ``sweep_cell``): a model's rows do not depend on the
    others."""
    rows = []
    for seed, fold in models:
        g = torch.Generator().manual_seed(100 * seed + fold + int(cell["x"]))
        rows += [
            {
                "realisation": r,
                "value": float(torch.randn(2, generator=g).sum()),
                "seed": seed,
                "fold": fold,
            }
            for r in range(2)
        ]
    return rows


@pytest.mark.parametrize("workers", [1, 2])
def test_a_grid_split_by_model_gives_the_table_of_whole_cells_and_resumes_per_model(
    tmp_path, workers
):
    from imssa.study.sweep import resumable_grid

    cells, models = [{"x": float(x)} for x in range(3)], [(0, 0), (0, 1), (1, 0)]
    whole = resumable_grid(cells, lambda c: _model_rows(c, models), tmp_path / "whole.csv")
    path = tmp_path / "split.csv"
    resumable_grid(cells[:2], _model_rows, path, workers=workers, models=models[1:])  # interrupted
    calls = []

    def counted(cell, some):
        calls.append((cell["x"], *some))
        return _model_rows(cell, some)

    split = resumable_grid(cells, counted, path, models=models)
    assert sorted(calls) == [
        (0.0, (0, 0)),
        (1.0, (0, 0)),
        (2.0, (0, 0)),
        (2.0, (0, 1)),
        (2.0, (1, 0)),
    ]
    pd.testing.assert_frame_equal(split, whole)  # same rows, same order: cell, then model
    with pytest.raises(ValueError, match="seed and fold"):
        resumable_grid(cells, lambda c, m: [{"value": 1.0}], tmp_path / "bad.csv", models=models)


def _noisy_rows(cell):
    g = torch.Generator().manual_seed(int(cell["x"]))  # each cell seeds its own draws
    return [{"realisation": r, "value": float(torch.randn(3, generator=g).sum())} for r in range(2)]


def test_resumable_grid_on_a_local_dask_cluster_gives_the_local_table(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from imssa.study.sweep import resumable_grid

    cells = [{"x": float(x)} for x in range(8)]
    local = resumable_grid(cells, _noisy_rows, tmp_path / "local.csv")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    ) as lc:
        monkeypatch.setenv("IMSSA_DASK_SCHEDULER", lc.scheduler_address)
        remote = resumable_grid(cells, _noisy_rows, tmp_path / "remote.csv")
        where = resumable_grid(cells, _on_dask_worker, tmp_path / "where.csv")
    pd.testing.assert_frame_equal(local, remote)
    assert where["on_worker"].all()  # the cells did run on the cluster's workers


def _on_dask_worker(cell):
    from distributed import get_worker

    try:
        get_worker()
        return [{"on_worker": True}]
    except ValueError:
        return [{"on_worker": False}]


def test_training_on_a_local_dask_cluster_gives_the_local_models(fsdd_root, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from imssa.model.cache import Run
    from imssa.study.sweep import train_all

    runs = [Run(DATA, MODEL, TRAIN.model_copy(update={"seed": s})) for s in (0, 1)]
    monkeypatch.setenv("IMSSA_CACHE_DIR", str(tmp_path / "local"))
    local = train_all(runs, workers=1, progress=False)
    # the workers inherit it: a shared cache
    monkeypatch.setenv("IMSSA_CACHE_DIR", str(tmp_path / "shared"))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as lc:
        monkeypatch.setenv("IMSSA_DASK_SCHEDULER", lc.scheduler_address)
        remote = train_all(runs, workers=1, progress=False)
    for a, b in zip(local, remote, strict=True):
        assert list(a.test_pred) == list(b.test_pred)
        assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    assert any(
        (tmp_path / "shared").rglob("*.pkl")
    )  # the cluster's workers filled the shared cache
