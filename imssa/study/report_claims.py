"""The reproduction report's claims: ``CLAIMS``, one ``report_grades.Claim`` per claim of the
paper and per open question, each naming the chapter and tables it reads, its kind of test,
whether our setting matches the paper's, and the rule (``report_rules``,
``report_memory_rules``) that judges it. ``report.report_table`` turns them into the report."""

from __future__ import annotations

from .claims import PAPER_NOISE_CLAIMS
from .deployment_arrays import ALL_NON_IDEALITIES
from .periphery_designs import BEST
from .report_grades import Claim
from .report_memory_rules import (
    designs_keep_memory_rule,
    keeps_memory_rule,
    memory_noise_rule,
    needs_state_rule,
    periphery_headline_rule,
    programmed_memory_rule,
)
from .report_rules import (
    agreement_rule,
    depth_scale_rule,
    fixed_range_rule,
    noise_claim_rule,
    one_array_rule,
    paired_rule,
    strategy_rule,
    technologies_rule,
)
from .runs import comparison_label, qat_label

__all__ = ["CLAIMS"]

_FSDD = "our task is FSDD zero/one with speakers held out, not the paper's Heidelberg Digits"
_ARRAY = (
    "our array is emulated (programming noise, stuck devices, read noise and converters with "
    "assumed parameters), not the paper's chip"
)

CLAIMS: list[Claim] = [
    Claim(
        "claim",
        "2-bit model, software accuracy",
        "95.06%",
        "fixed_range_qat",
        ("qat_summary",),
        "agreement",
        False,
        _FSDD,
        agreement_rule(
            "qat_summary",
            "label",
            qat_label(2, "fixed"),
            ("estimate", "ci_low", "ci_high"),
            "software_2bit_accuracy",
            lambda r: (
                f"{int(r['folds'])} held-out speakers x {int(r['runs']) // int(r['folds'])} seeds"
            ),
        ),
    ),
    Claim(
        "claim",
        "2-bit model, hardware accuracy",
        "81.69%",
        "hardware_deployment",
        ("emulation_summary",),
        "agreement",
        False,
        f"{_FSDD}; {_ARRAY}",
        agreement_rule(
            "emulation_summary",
            "variant",
            ALL_NON_IDEALITIES,
            ("mean", "ci_low", "ci_high"),
            "hardware_2bit_accuracy",
            lambda r: (
                f"{int(r['programmings'])} programmings over {int(r['folds'])} held-out speakers"
            ),
        ),
    ),
    Claim(
        "claim",
        "2-bit model, hardware accuracy, with per-column converters and offsets corrected",
        "81.69%",
        "periphery",
        ("design_summary",),
        "agreement",
        False,
        f"{_FSDD}; {_ARRAY}",
        agreement_rule(
            "design_summary",
            "variant",
            BEST,
            ("mean", "ci_low", "ci_high"),
            "hardware_2bit_accuracy",
            lambda r: (
                f"{int(r['programmings'])} programmings over {int(r['folds'])} held-out speakers"
            ),
        ),
    ),
    Claim(
        "check",
        "the emulated gap depends on the converter design: per column against one range per layer",
        "(implicit)",
        "periphery",
        ("headline",),
        "superiority",
        False,
        _ARRAY,
        periphery_headline_rule,
    ),
    Claim(
        "claim",
        "the 2-bit model tolerates programming noise sigma = 15 uS",
        "15 uS",
        "hardware_deployment",
        ("claims", "failure_causes"),
        "noise",
        False,
        _ARRAY,
        noise_claim_rule(PAPER_NOISE_CLAIMS[0]),
    ),
    Claim(
        "claim",
        "the 5-bit model degrades already at sigma = 5 uS",
        "5 uS",
        "hardware_deployment",
        ("claims", "failure_causes"),
        "noise",
        False,
        _ARRAY,
        noise_claim_rule(PAPER_NOISE_CLAIMS[1]),
    ),
    Claim(
        "claim",
        "ternary (2-bit) weights suffice",
        "95.06% at 2 bits",
        "float_baseline",
        ("paired",),
        "non-inferiority",
        False,
        _FSDD,
        paired_rule(comparison_label(2), comparison_label(), "ternary against float"),
    ),
    Claim(
        "claim",
        "the fixed range costs little accuracy",
        "(qualitative)",
        "fixed_range_qat",
        ("cost_of_fixing",),
        "non-inferiority",
        False,
        _FSDD,
        fixed_range_rule,
    ),
    Claim(
        "claim",
        "one array computes the whole kernel: state update and readout in one VMM",
        "(qualitative)",
        "crossbar_mapping",
        ("exactness", "layout"),
        "exactness",
        True,
        "the mapping [[A_bar, B_bar], [C, 0]] is the paper's, and its exactness does not depend "
        "on the data",
        one_array_rule,
    ),
    Claim(
        "check",
        "the recurrence carries the task (control, implicit in the paper)",
        "(implicit)",
        "float_baseline",
        ("paired",),
        "superiority",
        False,
        _FSDD,
        paired_rule(
            comparison_label(),
            comparison_label(control="memoryless"),
            "float S4D against A_bar = 0",
        ),
    ),
    Claim(
        "check",
        "the main task needs a state (controls: learned FIR banks, a log-mel baseline)",
        "(implicit)",
        "state_memory",
        ("state_verdict", "state_controls"),
        "superiority",
        False,
        _FSDD,
        needs_state_rule,
    ),
    Claim(
        "check",
        "the paper's fixed-range QAT (its range and cap, A_bar at most 8 bits, 2000 steps/s, "
        "fine-tuned) keeps the memory a state-space model exists for",
        "(implicit)",
        "state_memory",
        ("memory_verdict", "memory_summary"),
        "superiority",
        False,
        "our memory task (two FSDD words of one speaker in either order, speakers held out) is "
        "ours, not the paper's",
        keeps_memory_rule,
    ),
    Claim(
        "check",
        "fixed-range QAT keeps the memory with the range and cap at the circle and enough bits of "
        "A_bar for its step rate",
        "(implicit)",
        "memory_programming",
        ("step_rates", "bits_needed"),
        "superiority",
        False,
        "our memory task is ours, not the paper's; the step rates below 2000/s use a log-mel "
        "front end",
        designs_keep_memory_rule,
    ),
    Claim(
        "open question",
        "how much memory does a programmed array keep under programming noise? (the paper's "
        "method)",
        "(open)",
        "state_memory",
        ("memory_noise_answer", "memory_noise_summary"),
        "open",
        False,
        _ARRAY,
        memory_noise_rule,
    ),
    Claim(
        "open question",
        "which design keeps the memory under programming noise, at write-verified levels "
        "(0.5-4.5 uS) and at 15 uS?",
        "(open)",
        "memory_programming",
        ("planned", "sigma_star"),
        "open",
        False,
        _ARRAY,
        programmed_memory_rule,
    ),
    Claim(
        "open question",
        "which device technologies suit the method?",
        "(open)",
        "device_technologies",
        ("technology_summary",),
        "open",
        False,
        _ARRAY,
        technologies_rule,
    ),
    Claim(
        "open question",
        "the optimal quantization strategy for accuracy and hardware efficiency",
        "(open)",
        "quantization_strategy",
        ("nested_recommendation", "gap"),
        "open",
        False,
        _ARRAY,
        strategy_rule,
    ),
    Claim(
        "open question",
        "how does the method scale: depth, state size, more classes, real coefficients?",
        "(open)",
        "depth_scale",
        ("depth_contrasts", "ten_digits", "real_vs_complex_contrasts"),
        "open",
        False,
        _ARRAY,
        depth_scale_rule,
    ),
]
