"""Data: where FSDD and Heidelberg Digits live and how they are listed (``sources``), clips,
tasks, front ends and speaker-held-out splits (``audio``) and ``DataConfig`` (``config``). Imports
only the foundation (``imssa.schema``)."""
