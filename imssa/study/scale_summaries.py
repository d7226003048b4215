"""The depth-and-scale chapter's summaries and verdicts: per-layer output errors, the best depth per
fold (chosen on validation accuracy), the ten-digit table at depth 1 and at each fold's best depth,
and the unstable share of programmings by depth or state size."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "best_depth",
    "error_summary",
    "instability",
    "layer_errors",
    "ten_table",
    "with_layer_error",
]


def layer_errors(rows: pd.DataFrame) -> pd.DataFrame:
    """Long table of the per-layer output errors in ``rows`` (columns ``error_<i>`` and
    ``local_error_<i>`` from ``scale.spec_rows(errors=True)``): one row per programming and layer,
    with ``layer``, ``error`` (accumulated) and ``local_error`` (that layer's arrays alone)."""
    acc = [c for c in rows.columns if c.startswith("error_")]
    if not acc:
        raise ValueError("no per-layer error columns (error_<i>) in the rows")
    rows = _numeric_errors(rows)
    keep = [c for c in rows.columns if not c.startswith(("error_", "local_error_"))]
    out = []
    for c in acc:
        i = int(c.split("_")[1])
        part = rows[keep + [c, f"local_error_{i}"]].rename(
            columns={c: "error", f"local_error_{i}": "local_error"}
        )
        out.append(part.assign(layer=i).dropna(subset=["error"]))
    return pd.concat(out, ignore_index=True)


def _numeric_errors(rows: pd.DataFrame) -> pd.DataFrame:
    """The error columns as floats (a checkpoint reads the padding of shallower stacks back as
    '')."""
    cols = [c for c in rows.columns if c.startswith(("error_", "local_error_"))]
    return rows.assign(**{c: pd.to_numeric(rows[c].replace("", np.nan)) for c in cols})


def with_layer_error(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` of ``scale.spec_rows(errors=True)`` with ``layer_error``: the relative error of the
    last layer's output (the stack's, accumulated through every layer), per programming."""
    rows = _numeric_errors(rows)
    return rows.assign(
        layer_error=[
            r[f"error_{int(d)}"] for d, (_, r) in zip(rows["depth"], rows.iterrows(), strict=True)
        ]
    )


def best_depth(val: pd.DataFrame, tie_points: float) -> pd.DataFrame:
    """Each fold's best depth from validation accuracies ``val`` (columns fold, depth, val_accuracy;
    averaged over seeds): the shallowest depth within ``tie_points`` of the fold's best. One row per
    fold: ``fold``, ``best_depth``, ``val_accuracy``. Reads validation accuracy only."""
    if val["val_accuracy"].isna().all():
        raise ValueError("no validation accuracy to choose a depth from")
    mean = val.groupby(["fold", "depth"])["val_accuracy"].mean().reset_index()
    rows = []
    for fold, part in mean.groupby("fold"):
        top = part["val_accuracy"].max()
        pick = part[part["val_accuracy"] >= top - tie_points / 100].sort_values("depth").iloc[0]
        rows.append(
            {
                "fold": fold,
                "best_depth": int(pick["depth"]),
                "val_accuracy": float(pick["val_accuracy"]),
            }
        )
    return pd.DataFrame(rows)


def error_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per depth, noise level and layer (``layer_errors``' long table): the mean relative output
    error accumulated through the stack, the mean error of the layer's own arrays (``local_error``),
    and the share of the accumulated error the layer inherited from the layers below,
    1 - local / accumulated (0 for the first layer; near 1: the layer mostly passes errors on)."""
    g = long.groupby(["depth", "sigma_uS", "layer"], as_index=False)[
        ["error", "local_error"]
    ].mean()
    return g.assign(inherited_share=1 - g["local_error"] / g["error"].where(g["error"] > 0))


def ten_table(software: pd.DataFrame, hardware: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """The ten-digit results as one long table: for each fold, its models at depth 1 and at its best
    depth (``chosen``, from ``best_depth``), as ``depth_role`` 'depth 1' / 'best depth' (a fold
    whose best depth is 1 appears under both). Float models from ``software`` (``model`` 'float',
    sigma NaN, one row per fold and seed); quantized ones from ``hardware`` (``model`` '<b>-bit',
    one row per programming and noise level; sigma 0 is the ideal array)."""
    best = dict(zip(chosen["fold"], chosen["best_depth"], strict=True))
    if set(software["fold"]) - set(best):
        raise ValueError(f"no best depth for folds {sorted(set(software['fold']) - set(best))}")
    floats = software[software["bits"].isna()].assign(model="float", sigma_uS=np.nan, realisation=0)
    quant = hardware.assign(model=[f"{int(b)}-bit" for b in hardware["bits"]])
    both = pd.concat([floats, quant], ignore_index=True)
    parts = [
        both[both["depth"] == 1].assign(depth_role="depth 1"),
        both[both["depth"] == both["fold"].map(best)].assign(depth_role="best depth"),
    ]
    cols = [
        "model",
        "depth_role",
        "depth",
        "bits",
        "sigma_uS",
        "seed",
        "fold",
        "realisation",
        "accuracy",
        "failure",
    ]
    return pd.concat(parts, ignore_index=True)[cols]


def instability(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    """Share of programmings whose recurrence is unstable (``failure`` 'unstable': spectral radius
    >= 1 in some layer) per value of ``by`` and noise level, among the noisy ones (sigma > 0).

    With ``by='depth'`` it is set beside a first-order prediction: a stack is unstable when any of
    its layers is, so with the one-layer share p at that sigma a depth-d stack fails with
    1 - (1 - p)^d (its layers drawing independently and alike)."""
    noisy = rows[rows["sigma_uS"] > 0]
    out = (
        noisy.assign(unstable=noisy["failure"] == "unstable")
        .groupby([by, "sigma_uS"], as_index=False)
        .agg(unstable_share=("unstable", "mean"), programmings=("unstable", "size"))
    )
    if by == "depth":
        p1 = out[out["depth"] == 1].set_index("sigma_uS")["unstable_share"]
        out["predicted_from_depth_1"] = [
            1 - (1 - p1.get(x, np.nan)) ** d
            for d, x in zip(out["depth"], out["sigma_uS"], strict=True)
        ]
    return out
