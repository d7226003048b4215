"""Hardware: the device record (``devices``) composed of typed parts (the devices, ``physics``; the
converters, ``converters``; each field declared by ``fields.param``) and named presets composed
from them (``presets``); the noise models of a device (``noise``) and how a conductance is written
and ages (``conductance``); the crossbar mapping and layouts (``crossbar``); the converters'
simulation (``periphery``); the analog simulation in fast mode (``analog``) and step mode
(``step``); programming one layer (``deploy``), a stack of layers (``stack``), its converters'
ranges (``ranges``) and the scores of its programmings (``realisations``); the channel check after
programming (``check``), wire resistance (``wires``), the stability margin (``margin``) and the
energy and latency model (``cost``). Takes plain tensors or trained models; imports
``imssa.model``, ``imssa.data`` and the foundation, never ``imssa.study``."""
