"""VBench's dimensions (Huang et al., CVPR 2024) with VBench's own models and formulas.

Each module reproduces one family of ``vbench/<dimension>.py`` from VBench's
repository: the same checkpoint file (listed in
:data:`videojury.models.checkpoints.WEIGHT_FILES`), the same preprocessing
and the same formula, checked against VBench's own code on seeded random
weights (``tests/test_vbench_consistency.py``, ``benchmarks/parity/vbench/``,
``docs/vbench.md``). The models run on maintained libraries (timm,
open_clip); nothing downloads by itself.
"""
