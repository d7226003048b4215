"""Data: FSDD and Heidelberg Digits loaders, speaker-held-out splits (``audio``) and ``DataConfig``
(``config``). Imports only the foundation (``imssa.schema``)."""
