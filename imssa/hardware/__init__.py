"""Hardware: device parameters as typed data in parts (``devices``) and named presets composed from
them (``presets``), how a conductance is written and ages (``conductance``), the crossbar mapping
and layouts (``crossbar``), the converters (``periphery``), the analog simulation in step and fast
mode (``analog``), deployment of one layer or a stack (``deploy``), the channel check after
programming (``check``), wire resistance (``wires``), the stability margin (``margin``) and the
energy and latency model (``cost``). Takes plain tensors or trained models; imports
``imssa.model``, ``imssa.data`` and the foundation, never ``imssa.study``."""
