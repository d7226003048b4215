"""imssa: an executable study of IMSSA (S4D state-space models on memristive crossbars).

Modules: ``s4d`` (the layer and its pure kernel/recurrence functions), ``memory`` (time
constants and kernel memory in ms), ``data`` (FSDD, Heidelberg Digits, leave-one-speaker-out
folds), ``config`` and ``params`` (typed run and chapter parameters), ``train`` (classifier,
controls, training, cache), ``quant`` (fixed/per-channel/dynamic-range QAT, mixed precision, pole cap and penalty,
noise-aware QAT), ``runs`` (the book's
runs per fold and seed), ``selection`` (choices on validation data), ``stats`` (intervals and
paired tests over folds, seeds and clips), ``crossbar``, ``devices``, ``analog``, ``deploy``
(hardware: device window, paper-like block layout with 8 or 16 devices per element, a periphery
that saturates), ``margin`` (stability margin, first-order noise tolerance), ``strategy``
(quantization strategies compared under hardware), ``cost`` (energy and latency per inference,
analog against digital), ``claims`` (verdicts
on the paper's noise claims), ``sweep``, ``results``, ``plots``, ``paper`` (the paper's reference
values), ``runner`` (papermill + jupyter-book).
"""

__version__ = "0.1.0"
