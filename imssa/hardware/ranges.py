"""The converters' full scales of a deployed model, from the ideal arrays' peaks and a headroom.

``layer_converter_ranges`` runs the ideal stack step by step on a few clips and sets every layer's
DAC and ADC full scales (per layer, or per row and column, or per input bit's partial sums) to the
largest values seen times a headroom; ``converter_ranges`` is its first layer, to update a
``DeviceConfig`` with (``converters.ConverterRanges``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..model.train import SpeechClassifier
from .deploy import ideal_weights
from .devices import DeviceConfig
from .stack import _inputs
from .step import simulate_step

__all__ = ["SILENT_RANGE", "converter_ranges", "layer_converter_ranges"]


#: Full scale given to a converter whose ideal peaks were all zero (a layer whose quantized B_bar or
#: C is all zero): whatever noise adds there is clipped to nothing, as a periphery set from those
#: peaks would.
SILENT_RANGE = 1e-9


@torch.no_grad()
def layer_converter_ranges(
    net: SpeechClassifier,
    x: Tensor,
    headroom: float = 1.1,
    clips: int = 64,
    layers: int | None = None,
    per_column: bool = False,
    bit_serial_dac_bits: int | None = None,
) -> list[dict[str, Any]]:
    """Converter full scales for the first ``layers`` layers of a stack (default: all): each layer's
    DAC (state rows and input row apart: a deeper layer's input, the previous layer's output, is on
    another scale than its state) and ADC, the largest values an ideal step-mode run of the stack
    sees on ``clips`` of ``x`` (B, L), evenly spaced through them, times ``headroom``. A converter
    that saw only zeros (a silent layer) gets ``SILENT_RANGE``.

    ``per_column``: also ``row_ranges`` and ``column_ranges`` (H x n lists, ``DeviceConfig``), each
    row's and column's own peak times ``headroom``, state i's row and column sharing the larger of
    the two (``periphery``); ``adc_range`` stays the layer's largest, the reference of read noise.
    ``bit_serial_dac_bits``: also ``partial_ranges``, the peaks of one input bit's partial sums in a
    second ideal run whose inputs are applied bit-serially at that width through these DAC
    ranges."""
    if headroom <= 0 or clips < 1:
        raise ValueError(
            f"need headroom > 0 and clips >= 1, got headroom={headroom}, clips={clips}"
        )
    x = x[torch.linspace(0, len(x) - 1, min(clips, len(x))).round().long()]
    u, z, out = _inputs(net, x), None, []
    for i, layer in enumerate(net.layers[:layers]):
        peaks: dict[str, Tensor] = {}
        W, D = ideal_weights(net, i), layer.discrete().D.double()
        y = simulate_step(u, W, D, peaks=peaks)[0]
        ranges: dict[str, Any] = {
            key: headroom * max(float(peaks[name].max()), SILENT_RANGE)
            for key, name in (
                ("dac_range", "dac_state"),
                ("dac_input_range", "dac_input"),
                ("adc_range", "adc"),
            )
        }
        if per_column or bit_serial_dac_bits is not None:
            rows, cols = peaks["dac_row"].clone(), peaks["adc_column"].clone()
            # a state's ADC drives its DAC: one range
            shared = torch.maximum(rows[:, :-1], cols[:, :-1])
            rows[:, :-1], cols[:, :-1] = shared, shared
            rows, cols = (headroom * t.clamp_min(SILENT_RANGE) for t in (rows, cols))
            if per_column:
                ranges |= {"row_ranges": rows.tolist(), "column_ranges": cols.tolist()}
            if bit_serial_dac_bits is not None:
                dev = DeviceConfig(
                    dac_bits=bit_serial_dac_bits,
                    input_encoding="bit_serial",
                    **(
                        {"row_ranges": rows.tolist()}
                        if per_column
                        else {k: ranges[k] for k in ("dac_range", "dac_input_range")}
                    ),
                )
                bit_peaks: dict[str, Tensor] = {}
                simulate_step(u, W, D, dev, peaks=bit_peaks)
                partial = headroom * bit_peaks["partial_column"].clamp_min(SILENT_RANGE)
                ranges["partial_ranges"] = (
                    partial if per_column else partial.max().expand_as(partial)
                ).tolist()
        out.append(ranges)
        z = net.between_layers(i, y, z)
        u = z
    return out


def converter_ranges(
    net: SpeechClassifier,
    x: Tensor,
    headroom: float = 1.1,
    clips: int = 64,
    per_column: bool = False,
    bit_serial_dac_bits: int | None = None,
) -> dict[str, Any]:
    """DAC and ADC full scales from the ideal array's peaks on clips ``x`` (B, L), e.g. the
    training set: the largest |input| (the clip's and the fed-back state's) and |output| seen in a
    step-mode run on ``clips`` of them, evenly spaced through ``x`` (so that every speaker is
    represented), times ``headroom``. Returns {'dac_range': ..., 'adc_range': ...}, to update a
    ``DeviceConfig`` with: the first layer of ``layer_converter_ranges``, with one DAC range for all
    rows; ``per_column`` and ``bit_serial_dac_bits`` add that function's per-row and per-column
    lists."""
    first = layer_converter_ranges(
        net,
        x,
        headroom,
        clips,
        layers=1,
        per_column=per_column,
        bit_serial_dac_bits=bit_serial_dac_bits,
    )[0]
    merged = {
        "dac_range": max(first["dac_range"], first["dac_input_range"]),
        "adc_range": first["adc_range"],
    }
    return merged | {
        k: v for k, v in first.items() if k in ("row_ranges", "column_ranges", "partial_ranges")
    }
