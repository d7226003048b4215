"""The depth-and-scale chapter's summaries and verdicts: per-layer output errors, the best depth per
fold (chosen on validation accuracy), the ten-digit table at depth 1 and at each fold's best depth,
and the unstable share of programmings by depth or state size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.paired import holm_family
from ..stats.programmings import paired_contrast
from .sentences import where_text

__all__ = [
    "best_depth",
    "depth_text",
    "error_summary",
    "float_by_depth",
    "instability",
    "layer_errors",
    "real_vs_complex",
    "scale_text",
    "ten_digits",
    "ten_table",
    "ten_view",
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


def float_by_depth(software: pd.DataFrame, N: int) -> pd.Series:
    """The float binary-task models with ``N`` complex modes (``software``: one row per model):
    their mean test accuracy (a fraction) per depth."""
    floats = software[
        (software["task"] == "binary")
        & software["bits"].isna()
        & (software["N"] == N)
        & (software["ssm"] == "complex")
    ]
    return floats.groupby("depth")["accuracy"].mean()


def _is_ten(table: pd.DataFrame) -> pd.Series:
    """True for the rows of the ten-digit task's complex models."""
    return (table["task"] == "ten") & (table["ssm"] == "complex")


def ten_digits(
    software: pd.DataFrame,
    best_software: pd.DataFrame,
    hardware: pd.DataFrame,
    best_hardware: pd.DataFrame,
    chosen: pd.DataFrame,
) -> pd.DataFrame:
    """``ten_table`` of the ten-digit task's complex models: the software rows of ``software``
    (every model of the chapter) and ``best_software`` (the models at each fold's best depth, one
    row per depth, bits, seed and fold kept), and the programmed rows of ``hardware`` and
    ``best_hardware``; ``chosen``: the best depth per fold (``best_depth``)."""
    soft = pd.concat([software[_is_ten(software)], best_software])
    return ten_table(
        soft.drop_duplicates(["depth", "bits", "seed", "fold"]),
        pd.concat([hardware[_is_ten(hardware)], best_hardware], ignore_index=True),
        chosen,
    )


def ten_view(ten: pd.DataFrame) -> pd.DataFrame:
    """The ``ten_digits`` table to read: mean accuracy (a fraction) per model and noise level
    ('software', or sigma in uS) at depth 1 and at the best depth (columns)."""
    sigma = ten["sigma_uS"].map(lambda x: "software" if np.isnan(x) else f"{x:g} uS")
    return ten.assign(sigma=sigma).pivot_table(
        index=["model", "sigma"], columns="depth_role", values="accuracy", sort=False
    )


def depth_text(summary: pd.DataFrame, contrasts: pd.DataFrame, sigma_uS: float) -> str:
    """Markdown bullets on depth: the ternary models' mean test accuracy per depth in software
    (sigma 0) and at ``sigma_uS`` (uS) from ``summary``, then each depth against depth 1 at
    ``sigma_uS`` (``contrasts``: difference in points, its interval and verdict)."""
    at = summary[summary["sigma_uS"] == sigma_uS].set_index("depth")["mean"]
    sw = summary[summary["sigma_uS"] == 0].set_index("depth")["mean"]
    lines = [
        f"- **Depth** (ternary, test): "
        f"in software {', '.join(f'{d}: {v:.3f}' for d, v in sw.items())}; "
        f"at sigma = {sigma_uS:g} uS {', '.join(f'{d}: {v:.3f}' for d, v in at.items())}."
    ]
    for r in contrasts[contrasts["sigma_uS"] == sigma_uS].itertuples():
        lines.append(
            f"  - depth {r.a} - depth 1 at {sigma_uS:g} uS: {r.difference_points:+.1f} points "
            f"[{r.ci_low:+.1f}, {r.ci_high:+.1f}]: {r.verdict}."
        )
    return "\n".join(lines)


def scale_text(
    state_summary: pd.DataFrame,
    ten: pd.DataFrame,
    chosen: pd.DataFrame,
    n_max: int,
    sigma_uS: float,
    array: tuple[int, int],
    state_bits: int,
) -> str:
    """Markdown bullets on state size and ten digits: the largest N of ``state_summary`` that one
    ``array`` (rows, cols) holds (``n_max``), its accuracy on an ideal array and at ``sigma_uS``
    (uS), the ``state_bits`` models' accuracy per N at ``sigma_uS``; then the ten-digit models
    (``ten``, ``ten_digits``) at each fold's best depth (``chosen``) in software, on an ideal array
    and at ``sigma_uS``. Accuracies are fractions."""
    st = state_summary[state_summary["sigma_uS"] == sigma_uS].set_index("N")["mean"]
    fits = state_summary[state_summary["N"] <= n_max]
    at_max = fits[fits["N"] == fits["N"].max()].set_index("sigma_uS")["mean"]
    best = ten[ten["depth_role"] == "best depth"]
    tb = best.groupby(["model", "sigma_uS"], dropna=False)["accuracy"].mean()
    rows, cols = array
    return "\n".join(
        [
            f"- **State size**: one {rows} x {cols} array holds a channel up to N = {n_max}; "
            f"the largest N trained that fits, N = {fits['N'].max()}, scores {at_max[0.0]:.3f} "
            f"on an ideal array and {at_max.get(sigma_uS, np.nan):.3f} at {sigma_uS:g} uS. "
            f"{state_bits}-bit test accuracy at sigma = {sigma_uS:g} uS: "
            + ", ".join(f"N = {n}: {v:.3f}" for n, v in st.items())
            + ".",
            f"- **Ten digits** at each fold's best depth "
            f"({', '.join(map(str, chosen['best_depth']))}), test: "
            + ", ".join(
                f"{m} {where_text(x)} {v:.3f}"
                for (m, x), v in tb.items()
                if np.isnan(x) or x in (0.0, sigma_uS)
            )
            + ".",
        ]
    )


def real_vs_complex(rvc: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Real against complex state at the same bits (``rvc``: one row per model or programming,
    with ``task``, ``ssm``, ``model`` ('float' or '<b>-bit'), ``sigma_uS`` and ``accuracy``): the
    paired differences real minus complex per task and sigma (points, one Holm family), and the
    table to read, the float models' mean accuracy per task and state type (fractions) beside the
    differences per sigma. Returns (contrasts, table)."""
    q = rvc[rvc["model"] != "float"].dropna(subset=["accuracy"])
    contrasts = holm_family(
        pd.concat(
            [
                paired_contrast(
                    q[q["task"] == t], "ssm", "real", "complex", by=["task", "sigma_uS"]
                )
                for t in q["task"].unique()
            ],
            ignore_index=True,
        ),
        "real against complex on every task and sigma",
    )
    floats = rvc[rvc["model"] == "float"].groupby(["task", "ssm"])["accuracy"].mean().unstack()
    differences = contrasts.pivot(index="task", columns="sigma_uS", values="difference_points")
    table = pd.concat(
        [
            floats.add_prefix("float, "),
            differences.add_prefix("real - complex (points), sigma = "),
        ],
        axis=1,
    )
    return contrasts, table
