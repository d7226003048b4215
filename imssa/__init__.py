"""imssa: an executable study of IMSSA (S4D state-space models on memristive crossbars).

Modules: ``s4d`` (the layer and its pure kernel/recurrence functions), ``data`` (FSDD and
Heidelberg Digits), ``params`` (typed chapter parameters), ``train`` (classifier, training,
cache), ``stats`` (uncertainty), ``results`` (tidy CSV), ``plots`` (figure style),
``paper`` (the paper's reference values), ``runner`` (papermill + jupyter-book).
"""

__version__ = "0.1.0"
