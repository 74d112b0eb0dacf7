"""Training evaluators: LMM evaluators (LoRA + regression heads) and fusion models.

* :func:`train` / ``videojury train CONFIG``: fine-tune a video chat model
  from the checkpoint table on human MOS (LOVE's recipe), with optional
  projector and QA stages; the result is a folder that
  ``load_metric("trained:DIR")`` scores with.
* the same :func:`train` with a ``vqa:`` section: fine-tune FAST-VQA,
  FasterVQA or DOVER from its official checkpoint on MOS (heads or all
  weights), scored through ``trained:DIR`` too;
* :func:`fit_fusion` / ``videojury fit``: learn a small ridge or
  gradient-boosting model from stored metric scores to MOS on the CPU,
  cross-validated by prompt; the result is a JSON file that
  ``trained:DIR`` scores with too.

Nothing here imports torch until an LMM evaluator is trained or loaded.
"""

from __future__ import annotations

from typing import Any

from .config import TrainConfig, config_from_dict, load_config

__all__ = ["TrainConfig", "config_from_dict", "fit_fusion", "load_config", "load_evaluator",
           "train"]


def train(cfg: TrainConfig, resume: bool = False, log=None, on_step=None) -> Any:
    """Run a training configuration (see :mod:`videojury.train.loop`; a ``vqa:`` section
    fine-tunes a VQA network instead, :mod:`videojury.train.vqa`); ``on_step(step)`` is
    called after every optimizer step."""
    if cfg.vqa.model:
        from .vqa import VQATrainer

        return VQATrainer(cfg, log, on_step).run(resume=resume)
    from .loop import train as _train

    return _train(cfg, resume=resume, log=log, on_step=on_step)


def load_evaluator(folder, **kwargs: Any) -> Any:
    """Load a trained LMM evaluator folder (see :mod:`videojury.train.evaluator`)."""
    from .evaluator import load_evaluator as _load

    return _load(folder, **kwargs)


def fit_fusion(*args: Any, **kwargs: Any) -> Any:
    """Fit a fusion model (see :func:`videojury.train.fusion_fit.fit_fusion`)."""
    from .fusion_fit import fit_fusion as _fit

    return _fit(*args, **kwargs)
