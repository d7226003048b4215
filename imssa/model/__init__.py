"""Model: the S4D layer and its pure kernel and recurrence functions (``s4d``, complex and real
variants), quantization (``quant``: quantizers and their ranges; ``poles``: the pole cap,
stability and the log-radius grid; ``qat``: the quantized SSM and the quantization-aware layer),
the classifier, training loop and model cache (``train``), time constants and kernel memory
(``memory``) and the run configurations (``config``). Knows nothing of hardware; imports
``imssa.data`` and the foundation."""
