"""Hugging Face model backbones for the vision-language metrics.

:mod:`.checkpoints` is the table of named checkpoints (plain data, no
torch); :mod:`.loading` loads one (device, dtype, offline mode, one shared
copy per process); :mod:`.lmm` asks a video chat model questions;
:mod:`.embed` computes CLIP-style embeddings and BLIP matching;
:mod:`.tiny` builds tiny random checkpoints for tests and benchmarks.
Only :mod:`.checkpoints` is imported here, so ``import videojury.models``
stays light.
"""

from .checkpoints import CHECKPOINTS, Checkpoint, FrameSpec, resolve_checkpoint

__all__ = ["CHECKPOINTS", "Checkpoint", "FrameSpec", "resolve_checkpoint"]
