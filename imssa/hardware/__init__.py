"""Hardware: device parameters as typed data with presets (``devices``), how a
conductance is written and ages (``conductance``), the crossbar mapping and
layouts (``crossbar``), the analog simulation in step and fast mode (``analog``), deployment of one
layer or a stack (``deploy``), the stability margin (``margin``) and the energy and latency model
(``cost``). Takes plain tensors or trained models; imports ``imssa.model``, ``imssa.data`` and the
foundation, never ``imssa.study``."""
