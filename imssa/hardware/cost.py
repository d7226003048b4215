"""First-order hardware cost of one S4D layer: energy and latency per time step and per inference,
on memristive arrays and, for comparison, on a digital multiply-accumulate (MAC) unit.

Analog, per time step, with the periphery the simulator runs (``periphery``): bit-serial inputs as
in ISAAC (the ``dac_bits``-bit sign-magnitude code applied one magnitude bit per array cycle, every
cycle's outputs converted, the periphery shifting and adding the partial results) or multi-level
inputs (one cycle, one multi-level DAC conversion per row):

* array read, per cycle: sum over cross-points of G V_read^2 t_read x ``input_activity`` (the share
  of input bits that are 1), G the programmed target conductances and, where a block leaves
  cross-points unprogrammed, g_off;
* DAC, per cycle: one conversion per input line (ASSUMPTION: one driver serves every column tile
  of its row), 1-bit bit-serially, ``dac_energy_J`` multi-level;
* ADC, per cycle: one conversion per differential output (ASSUMPTION: the G+ and G- column currents
  are subtracted before conversion, and the row tiles' bit lines are joined, so a column is
  converted once: what the simulator does); Walden figure of merit: E = FOM_W 2^bits;
* digital periphery, per step: encoder (H multiply-adds), D u (H), GELU (H table reads), mean
  pooling (H adds), and for ranges other than one fixed range a column gain per output
  (H (2N+1) multiplies).

Digital, per time step: the same kernel (8N real weights per channel: A_bar's 2x2 blocks, B_bar,
C) as MACs of ``bits``-bit weights with ``activation_bits``-bit activations into a 32-bit
accumulator, every weight read from SRAM and the state read and written, plus the same periphery.

Per inference: L steps plus the decoder (H x classes MACs). Latency per step: analog, its cycles of
one read each plus the ADC conversions an array's converters do one after another; digital, the MACs
on ``digital_macs_per_cycle`` lanes at ``digital_clock_Hz``.

Every constant of ``CostConstants`` carries its source or is labelled ASSUMPTION. Energies are in
joules inside, reported in pJ; times in seconds inside, reported in us.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import Field
from torch import Tensor

from ..schema import Strict
from .crossbar import Layout
from .devices import DeviceConfig
from .periphery import conversions_per_step, input_cycles, levels

__all__ = [
    "CostConstants",
    "CostEstimate",
    "adc_energy_J",
    "analog_cost",
    "dac_energy_J",
    "device_conductances",
    "digital_A_J",
    "digital_cost",
    "front_end_J",
    "mult_energy_J",
    "periphery_ops",
]


class CostConstants(Strict):
    """Energy and timing constants. Digital figures: 45 nm CMOS, 0.9 V (Horowitz, "Computing's
    energy problem (and what we can do about it)", ISSCC 2014, Fig. 1.1.9). Converter figures:
    the ISAAC accelerator's components (Shafiee et al., ISCA 2016, Table I), the design study that
    maps CNNs onto memristor crossbars with these converters. Both were read through secondary
    transcriptions (e.g. the Accelergy hwcomponents library's ISAAC model), not the original
    tables."""

    v_read_V: float = Field(
        default=0.2,
        gt=0,
        description=(
            "full-scale read voltage on a row, V. ASSUMPTION: of the order of the bit-line swings "
            "of RRAM compute macros, small enough for a linear I-V; not taken from a measured array"
        ),
    )
    t_read_s: float = Field(
        default=100e-9,
        gt=0,
        description="read (integration) time of one array cycle, s (ISAAC: 100 ns)",
    )
    input_activity: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description=(
            "share of input bits that are 1, i.e. of rows driven in a cycle. ASSUMPTION: 0.5 (1 is "
            "an upper bound)"
        ),
    )
    g_off_uS: float = Field(
        default=0.0, ge=0, description="conductance of an unprogrammed cross-point, uS (no device)"
    )
    dac_bits: int = Field(
        default=8,
        ge=2,
        le=16,
        description=(
            "input resolution of the default periphery, applied bit-serially: a sign-magnitude "
            "code, one array cycle per magnitude bit (the emulated array's DAC: 8 bits, 7 cycles)"
        ),
    )
    dac_J_per_bit: float = Field(
        default=0.39e-12,
        gt=0,
        description=(
            "J per 1-bit DAC conversion: ISAAC's 8 x 128 one-bit DACs draw 4 mW at a 100 ns cycle"
        ),
    )
    dac_level_J: float = Field(
        default=0.39e-12,
        gt=0,
        description=(
            "J per LSB of magnitude of one multi-level DAC conversion, which costs 2^(bits-1) - 1 "
            "of them (ASSUMPTION: a binary-weighted driver, each unit as a 1-bit pulse; no source: "
            "it sets the multi-level DAC's share, so the chapter shows the energy with it 10x "
            "lower too)"
        ),
    )
    adc_fom_J_per_conversion_step: float = Field(
        default=6.5e-15,
        gt=0,
        description=(
            "Walden figure of merit, J per conversion step: ISAAC's 8-bit 1.2 GS/s ADCs, 16 mW for "
            "8 (Kull et al., ISSCC 2013), i.e. 1.67 pJ per conversion / 2^8, taken at its nominal "
            "resolution. The best published Walden FOMs are near 2 fJ (ISSCC 2013, B. Jonsson's "
            "survey)"
        ),
    )
    adc_rate_Hz: float = Field(
        default=1.2e9, gt=0, description="conversions per second of one ADC (ISAAC, Table I)"
    )
    adcs_per_array: int = Field(
        default=1, ge=1, description="ADCs shared by an array's columns (ISAAC: one per crossbar)"
    )
    mult8_J: float = Field(
        default=0.2e-12, gt=0, description="8-bit integer multiply, J (Horowitz 2014)"
    )
    add8_J: float = Field(
        default=0.03e-12, gt=0, description="8-bit integer add, J (Horowitz 2014)"
    )
    add32_J: float = Field(
        default=0.1e-12, gt=0, description="32-bit integer add, J (Horowitz 2014)"
    )
    sram_J_per_bit: float = Field(
        default=10e-12 / 64,
        gt=0,
        description=("SRAM read, J per bit: 10 pJ per 64-bit read of an 8 kB SRAM (Horowitz 2014)"),
    )
    activation_bits: int = Field(
        default=8, ge=1, le=32, description="digital activations and state (as the DAC)"
    )
    digital_clock_Hz: float = Field(default=1e9, gt=0, description="ASSUMPTION: a 1 GHz MAC unit")
    digital_macs_per_cycle: int = Field(
        default=1,
        ge=1,
        description=(
            "MAC lanes of the digital unit. ASSUMPTION: one (a single MAC unit); it sets the "
            "digital latency and that of A_bar held digitally, not their energy"
        ),
    )


def adc_energy_J(bits: int, c: CostConstants) -> float:
    """Energy of one conversion at ``bits``: FOM_W 2^bits (Walden)."""
    if bits < 1:
        raise ValueError(f"ADC bits must be >= 1, got {bits}")
    return c.adc_fom_J_per_conversion_step * 2.0**bits


def mult_energy_J(bits_a: int, bits_b: int, c: CostConstants) -> float:
    """Energy of one integer multiply of ``bits_a`` x ``bits_b`` bits, scaled from the 8 x 8 figure
    by the partial products, bits_a bits_b / 64 (ASSUMPTION: an array multiplier)."""
    if bits_a < 1 or bits_b < 1:
        raise ValueError(f"multiplier widths must be >= 1, got {bits_a} x {bits_b}")
    return c.mult8_J * bits_a * bits_b / 64


@dataclass(frozen=True)
class CostEstimate:
    """One design's cost: energies in pJ (per step, per inference, and by component per inference)
    and latency in us per step."""

    energy_pJ_per_step: float
    energy_pJ_per_inference: float
    latency_us_per_step: float
    breakdown_pJ_per_inference: dict[str, float]


def periphery_ops(H: int, N: int, column_gains: bool, c: CostConstants) -> dict[str, float]:
    """Digital periphery energy per step, J: encoder and D u (a multiply and a 32-bit add each per
    channel), GELU (an 8-bit table read per channel, from SRAM), mean pooling (a 32-bit add per
    channel) and, with ``column_gains``, one multiply per output of every channel's block."""
    mac = mult_energy_J(c.activation_bits, c.activation_bits, c) + c.add32_J
    ops = {"encoder_and_D": 2 * H * mac, "gelu": H * 8 * c.sram_J_per_bit, "pooling": H * c.add32_J}
    if column_gains:
        ops["column_gains"] = (
            H * (2 * N + 1) * mult_energy_J(c.activation_bits, c.activation_bits, c)
        )
    return ops


def _decoder_J(H: int, classes: int, c: CostConstants) -> float:
    """The decoder, once per inference: H x classes multiply-adds at the activations' width, J."""
    return H * classes * (mult_energy_J(c.activation_bits, c.activation_bits, c) + c.add32_J)


def _per_inference(
    step: dict[str, float], L: int, decoder_J: float
) -> tuple[float, dict[str, float]]:
    """Energy per step (J) and the per-inference breakdown (pJ): L steps plus the decoder."""
    per_inf = {k: v * L for k, v in step.items()} | {"decoder": decoder_J}
    total_step = sum(step.values())
    return total_step, {k: v * 1e12 for k, v in per_inf.items()}


def dac_energy_J(bits: int, encoding: str, c: CostConstants) -> float:
    """Energy of one DAC conversion: a 1-bit pulse bit-serially (``dac_J_per_bit``); a multi-level
    ``bits``-bit conversion 2^(bits-1) - 1 units of ``dac_level_J`` (ASSUMPTION, see there)."""
    if encoding == "bit_serial":
        return c.dac_J_per_bit
    return c.dac_level_J * levels(bits)


def analog_cost(
    G_uS: Tensor,
    layout: Layout,
    N: int,
    L: int,
    classes: int,
    adc_bits: int,
    c: CostConstants,
    column_gains: bool = False,
    periphery: DeviceConfig | None = None,
    digital_A_bits: int | None = None,
    front_end_J: float = 0.0,
) -> CostEstimate:
    """Cost of one layer on memristive arrays. ``G_uS``: target conductances of every programmed
    device, one entry per copy of a weight (``deploy.target_conductances`` repeated ``copies``
    times); ``layout``: the placement (arrays, cross-points, tiles); ``N`` complex modes; ``L``
    steps per inference; ``classes`` decoder outputs; ``column_gains``: a range other than one fixed
    range needs a digital gain per output.

    ``periphery``: the simulated converters (``DeviceConfig``: ``dac_bits``, ``input_encoding``,
    per-column ranges, calibration), whose conversions are counted by the simulator's own rule
    (``periphery.conversions_per_step``); default bit-serial ``c.dac_bits`` inputs as ISAAC, with
    ``adc_bits``. Per-column ranges add a gain per channel after the readout; the affine correction
    a subtraction and a multiply per converted column.

    ``digital_A_bits`` (the hybrid design): A_bar is held digitally at that width and ``G_uS`` holds
    only the B_bar and C devices (their cross-points in A_bar's place are not programmed). The
    array still converts the same lines each step (u and the state in, B_bar u and y out, the
    state update done digitally in between), so the conversions are those of the full array;
    A_bar x costs ``digital_A_J`` per step and its MACs' time on the digital unit is added to the
    latency. ``front_end_J``: the front end's energy per step (``front_end_J``)."""
    if L < 1 or classes < 1:
        raise ValueError(f"need L >= 1 and classes >= 1, got {L}, {classes}")
    if len(G_uS) != layout.devices and not (
        digital_A_bits is not None and len(G_uS) <= layout.devices
    ):
        raise ValueError(
            f"{len(G_uS)} conductances for a layout of {layout.devices} programmed devices"
        )
    if (G_uS < 0).any():
        raise ValueError("conductances must be >= 0 uS")
    dev = periphery or DeviceConfig(
        dac_bits=c.dac_bits, adc_bits=adc_bits, input_encoding="bit_serial"
    )
    if dev.dac_bits is None or dev.adc_bits is None:
        raise ValueError(
            "the cost of a periphery needs its converters' widths (dac_bits and adc_bits)"
        )
    H, n = layout.H, layout.n
    conv = conversions_per_step(dev, H, n)
    cycles = input_cycles(dev)
    v2 = c.v_read_V**2 * c.input_activity
    unprogrammed = layout.cross_points - len(G_uS)
    array_J = (float(G_uS.double().sum()) + unprogrammed * c.g_off_uS) * 1e-6 * v2 * c.t_read_s
    mult = mult_energy_J(c.activation_bits, c.activation_bits, c)
    step = {
        "array": cycles * array_J,
        "dac": conv["dac"] * dac_energy_J(dev.dac_bits, dev.input_encoding, c),
        "adc": conv["adc"] * adc_energy_J(dev.adc_bits, c),
    } | periphery_ops(H, N, column_gains, c)
    if dev.per_column:
        step["readout_gains"] = H * mult
    if dev.calibration_reads:
        step["affine_correction"] = conv["adc"] * (mult + c.add32_J)
    if digital_A_bits is not None:
        step["digital_A"] = digital_A_J(H, N, digital_A_bits, c)
    if front_end_J:
        step["front_end"] = front_end_J
    decoder_J = _decoder_J(H, classes, c)
    total_step, breakdown = _per_inference(step, L, decoder_J)
    latency = (
        cycles * c.t_read_s
        + math.ceil(conv["adc"] / layout.arrays / c.adcs_per_array) / c.adc_rate_Hz
    )
    if digital_A_bits is not None:
        latency += math.ceil(4 * N * H / c.digital_macs_per_cycle) / c.digital_clock_Hz
    return CostEstimate(total_step * 1e12, sum(breakdown.values()), latency * 1e6, breakdown)


def digital_cost(
    H: int, N: int, bits: tuple[int, int, int], L: int, classes: int, c: CostConstants
) -> CostEstimate:
    """Cost of the same kernel on a digital MAC unit: per step and channel 4N MACs with A_bar's
    ``bits[0]``-bit weights, 2N with B_bar's and 2N with C's (``activation_bits`` activations,
    32-bit accumulation), every weight read from SRAM, the 2N-entry state read and written, and the
    same periphery as the analog design (without column gains)."""
    if min(H, N, L, classes) < 1 or min(bits) < 1:
        raise ValueError(f"need H, N, L, classes, bits >= 1, got {H}, {N}, {L}, {classes}, {bits}")
    counts: dict[int, int] = {}
    # MACs per channel and step at each weight width
    for b, k in zip(bits, (4 * N, 2 * N, 2 * N), strict=True):
        counts[b] = counts.get(b, 0) + k
    macs = sum(counts.values()) * H
    step = {
        "mac": H
        * sum(k * (mult_energy_J(b, c.activation_bits, c) + c.add32_J) for b, k in counts.items()),
        "weight_reads": H * sum(k * b for b, k in counts.items()) * c.sram_J_per_bit,
        "state_reads_writes": H * 2 * (2 * N) * c.activation_bits * c.sram_J_per_bit,
    } | periphery_ops(H, N, False, c)
    decoder_J = _decoder_J(H, classes, c)
    total_step, breakdown = _per_inference(step, L, decoder_J)
    latency = math.ceil(macs / c.digital_macs_per_cycle) / c.digital_clock_Hz
    return CostEstimate(total_step * 1e12, sum(breakdown.values()), latency * 1e6, breakdown)


def digital_A_J(H: int, N: int, bits_A: int, c: CostConstants) -> float:
    """Energy per step of A_bar x held digitally (the hybrid design), J: per channel N complex
    multiplications, 4N multiplies of ``bits_A``-bit weights by ``activation_bits`` activations with
    32-bit adds, A_bar's 2N weights read from SRAM, the 2N-entry state read and written."""
    if min(H, N, bits_A) < 1:
        raise ValueError(f"need H, N, bits_A >= 1, got {H}, {N}, {bits_A}")
    macs = 4 * N * (mult_energy_J(bits_A, c.activation_bits, c) + c.add32_J)
    reads = 2 * N * bits_A * c.sram_J_per_bit + 2 * (2 * N) * c.activation_bits * c.sram_J_per_bit
    return H * (macs + reads)


def front_end_J(n_fft: int, hop: int, n_mels: int, c: CostConstants) -> float:
    """Energy per step of a log-mel front end, J (0 for the waveform, ``n_fft`` = 1). Op counts of
    a textbook frame: a window (n_fft multiplies), a radix-2 real FFT (n_fft/2 log2 n_fft complex
    butterflies of 4 multiplies and 6 adds, a count not shared across frames), the power of
    n_fft/2 + 1 bins (2 multiplies, 1 add), a mel filter bank (two weights per bin: ASSUMPTION,
    triangular filters overlap by half) and a log per band (an 8-bit table read); each op priced
    with ``c``'s 8-bit multiply and 32-bit add (Horowitz 2014), a 16-bit datapath as 4 such
    multiplies (ASSUMPTION). ``hop`` only checks that a frame covers its step."""
    if n_fft < 1 or hop < 1 or n_mels < 1 or hop > n_fft:
        raise ValueError(
            f"need 1 <= hop <= n_fft and n_mels >= 1, got n_fft {n_fft}, hop {hop}, n_mels {n_mels}"
        )
    if n_fft == 1:
        return 0.0
    mul, add = 4 * c.mult8_J, c.add32_J
    bins = n_fft // 2 + 1
    butterflies = n_fft / 2 * math.log2(n_fft)
    ops = (
        n_fft * mul
        + butterflies * (4 * mul + 6 * add)
        + bins * (2 * mul + add)
        + 2 * bins * (mul + add)
        + n_mels * 8 * c.sram_J_per_bit
    )
    return float(ops)


def device_conductances(targets: Tensor, copies: int) -> Tensor:
    """Every programmed device's target (uS): ``targets`` (one per entry and side) repeated for each
    of the ``copies`` pairs that carry the entry."""
    return targets.repeat(copies) if copies > 1 else targets
