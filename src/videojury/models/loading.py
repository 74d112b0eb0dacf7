"""Loading checkpoints: device and dtype, offline mode, clear errors, one copy per process.

:func:`load_backbone` turns a :class:`~videojury.models.checkpoints.Checkpoint`
into a ready model and processor. Loaded backbones are kept in a
process-wide cache keyed by (weights, processor, revision, device, dtype,
remote-code flag), so two metrics that name the same checkpoint in one run
share one copy in memory; :func:`load_count` tells how many times a source
was really loaded (the tests use it).

Device: CUDA when available, else CPU; dtype: the checkpoint's GPU dtype
(bf16 for the chat models) on CUDA, fp32 on CPU. Both can be forced with the
metrics' ``device=`` and ``dtype=`` options. Weights load from safetensors
only, and code from a model repository runs only when the user passes
``trust_remote_code=true``. With ``HF_HUB_OFFLINE=1`` nothing is fetched;
a checkpoint missing from the local cache gives one message naming it and
the command that downloads it.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MetricError, require
from .checkpoints import (CHECKPOINTS, Checkpoint, _looks_local, family_of_config, hub_cache_dir,
                          pinned_identity, with_family)

_DTYPES = {"float32": "float32", "fp32": "float32", "float": "float32",
           "bfloat16": "bfloat16", "bf16": "bfloat16",
           "float16": "float16", "fp16": "float16", "half": "float16"}


class CheckpointNotFoundError(MetricError):
    """A checkpoint is neither a local folder nor in the Hugging Face cache (or cannot be fetched)."""


@dataclass
class Backbone:
    """A loaded model with its processor, on a device, in a dtype.

    ``lock`` serialises use from several threads: one forward pass at a
    time per backbone, since the processor and model are shared.
    """

    checkpoint: Checkpoint
    model: Any
    processor: Any
    device: str
    dtype: Any  # torch.dtype
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def family(self) -> str:
        return self.checkpoint.family

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)


_CACHE: dict[tuple, Backbone] = {}
_CACHE_LOCK = threading.Lock()
_LOADS: Counter[str] = Counter()


def _torch():
    return require("torch", "models", "vision-language metrics")


def _transformers():
    return require("transformers", "models", "vision-language metrics")


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


def select_device(device: str | None = None) -> str:
    """The torch device to use: ``device`` if given (checked), else CUDA when present, else CPU."""
    torch = _torch()
    d = (device or "").strip().lower()
    if d in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if d.startswith("cuda") and not torch.cuda.is_available():
        raise MetricError(f"device {device!r} was asked for but CUDA is not available here "
                          "(use device=cpu, or install a CUDA build of torch)")
    if d == "mps" and not (getattr(torch.backends, "mps", None)
                           and torch.backends.mps.is_available()):
        raise MetricError("device 'mps' was asked for but is not available here")
    return d


def select_dtype(dtype: str | None, device: str, preferred: str = "bfloat16"):
    """The torch dtype: ``dtype`` if given, else ``preferred`` on CUDA (bf16 falls back to
    fp16 where the GPU lacks it) and fp32 elsewhere (CPU half precision is slow and lossy)."""
    torch = _torch()
    d = (dtype or "").strip().lower()
    if d in ("", "auto"):
        if not device.startswith("cuda"):
            return torch.float32
        name = _DTYPES.get(preferred, "bfloat16")
        if name == "bfloat16" and not torch.cuda.is_bf16_supported():
            name = "float16"
        return getattr(torch, name)
    if d not in _DTYPES:
        raise MetricError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    return getattr(torch, _DTYPES[d])


def _missing(ck: Checkpoint, source: str, why: str) -> CheckpointNotFoundError:
    cmds = ck.download_commands() or [f"hf download {source}"]
    alt = " or ".join(f"'{c}'" for c in cmds)
    old = "; with an older huggingface_hub: " + " and ".join(
        f"'{c.replace('hf download', 'huggingface-cli download', 1)}'" for c in cmds)
    label = ck.name if ck.name == source else f"{ck.name} ({source})"
    return CheckpointNotFoundError(f"checkpoint {label} {why}. Download it with {alt}{old}; "
                                   "or pass model=PATH to a folder that holds it")


def _check_available(ck: Checkpoint, source: str, revision: str | None) -> None:
    """Fail early, with the download command, for a hub checkpoint that cannot be had."""
    if _looks_local(source):
        p = Path(os.path.expanduser(source))
        if not p.is_dir():
            raise CheckpointNotFoundError(f"model folder {source} does not exist")
        return
    if not hub_offline():
        return
    from huggingface_hub import try_to_load_from_cache

    cache = _cache_dir()
    got = try_to_load_from_cache(source, "config.json", cache_dir=cache, revision=revision)
    if not isinstance(got, str):
        got = try_to_load_from_cache(source, "preprocessor_config.json", cache_dir=cache,
                                     revision=revision)
    if not isinstance(got, str):
        raise _missing(ck, source, "is not in the local Hugging Face cache and HF_HUB_OFFLINE "
                                   "is set, so it cannot be fetched")


_cache_dir = hub_cache_dir


def _hub_kwargs() -> dict[str, Any]:
    """Cache folder and offline mode for from_pretrained as the environment says *now*
    (huggingface_hub reads both once, at import), so loading agrees with the plan."""
    out: dict[str, Any] = {}
    cache = hub_cache_dir()
    if cache:
        out["cache_dir"] = cache
    if hub_offline():
        out["local_files_only"] = True
    return out


def dtype_name(dt: Any) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dt).rsplit(".", 1)[-1]


def precision_identity(device: str | None, dtype: str | None,
                       preferred: str = "bfloat16") -> dict[str, str]:
    """``{"device": kind, "dtype": name}`` as :func:`select_device`/:func:`select_dtype`
    resolve them here; for a metric's :meth:`~videojury.metrics.base.Metric.identity`."""
    dev = select_device(device)
    return {"device": dev.split(":", 1)[0], "dtype": dtype_name(select_dtype(dtype, dev,
                                                                              preferred))}


def run_identity(ck: Checkpoint, device: str | None, dtype: str | None, hash_file,
                 ) -> tuple[Checkpoint, dict[str, str]]:
    """What a model metric's scores depend on beyond its options, known before loading.

    Returns the checkpoint pinned to the hub commit(s) it resolves to (load
    that one, so the key names exactly what runs) and the identity for the
    store key: the device kind (``cpu``, ``cuda``, ``mps``), the dtype as
    :func:`load_backbone` will resolve it (the default is float32 on CPU and
    the checkpoint's GPU dtype on CUDA), and the weights' and processor's
    identity (see :func:`~videojury.models.checkpoints.pinned_identity`).
    """
    precision = precision_identity(device, dtype, ck.dtype)
    pinned, ident = pinned_identity(ck, hash_file)
    return pinned, {**precision, **ident}


# Families of LOVE's evaluator table whose architecture transformers does not have
# (config ``model_type`` -> name): they run only with their repositories' code.
REMOTE_CODE_FAMILIES = {
    "internvl_chat": "InternVL2.5 / InternVideo2.5 (OpenGVLab's chat code)",
    "deepseek_vl_v2": "DeepSeek-VL2",
    "mplugowl3": "mPLUG-Owl3",
    "cogagent": "CogAgent",
    "cogvlm": "CogVLM",
}


def _raw_config(ck: Checkpoint) -> dict | None:
    """``config.json`` of ``ck`` as plain data, executing nothing (None when not readable)."""
    if _looks_local(ck.source):
        p = Path(os.path.expanduser(ck.source)) / "config.json"
        try:
            import json

            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
    transformers = _transformers()
    try:
        cfg, _ = transformers.PretrainedConfig.get_config_dict(ck.source, revision=ck.revision,
                                                                **_hub_kwargs())
        return cfg
    except (OSError, ValueError):
        return None


def check_remote_code(ck: Checkpoint, trust_remote_code: bool) -> None:
    """One clear message, before any loading, for a checkpoint whose architecture the
    installed transformers lacks when ``trust_remote_code`` was not given."""
    if trust_remote_code:
        return
    cfg = _raw_config(ck)
    if not cfg:
        return
    model_type = str(cfg.get("model_type", ""))
    from transformers import CONFIG_MAPPING

    if not model_type or model_type in CONFIG_MAPPING:
        return
    import transformers

    what = REMOTE_CODE_FAMILIES.get(model_type, f"model_type {model_type!r}")
    code = " (its config names repository code in auto_map)" if cfg.get("auto_map") else ""
    raise MetricError(f"checkpoint {ck.name} is {what}, an architecture transformers "
                      f"{transformers.__version__} does not have{code}; it runs only with its "
                      "repository's code. If you trust that code, pass --trust-remote-code (videojury "
                      "score) or the metric option trust_remote_code=true (e.g. -m \"vqascore:"
                      "model=...,trust_remote_code=true\"); videojury has no test of such code")


def _read_family(ck: Checkpoint, trust_remote_code: bool) -> Checkpoint:
    """Settle the family of a hub id that is not in the table, from its config."""
    if ck.name in CHECKPOINTS or _looks_local(ck.source):
        return ck
    transformers = _transformers()
    try:
        cfg = transformers.AutoConfig.from_pretrained(ck.source, revision=ck.revision,
                                                      trust_remote_code=trust_remote_code,
                                                      **_hub_kwargs())
    except OSError as exc:
        raise _missing(ck, ck.source, f"could not be fetched ({_first_line(exc)})") from None
    return with_family(ck, family_of_config(cfg.to_dict()))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _model_class(ck: Checkpoint):
    transformers = _transformers()
    return getattr(transformers, ck.model_class)


def load_backbone(ck: Checkpoint, device: str | None = None, dtype: str | None = None,
                  trust_remote_code: bool = False, *, shared: bool = True) -> Backbone:
    """Load (or reuse) the model and processor of ``ck``.

    With ``shared`` (the default) the result is cached for the life of the
    process under the resolved device and dtype, so every metric naming the
    same checkpoint gets the same object. ``shared=False`` loads a private
    copy through the same path, neither read from nor added to the cache (for
    training, which changes the model it holds). Raises
    :class:`CheckpointNotFoundError` with the download command when the
    weights are not there, and :class:`MetricError` for a folder without
    safetensors weights.
    """
    _torch()  # the [models] extra must be there: say so before anything else
    dev = select_device(device)
    _check_available(ck, ck.source, ck.revision)  # before any hub call: fail fast offline
    check_remote_code(ck, trust_remote_code)
    ck = _read_family(ck, trust_remote_code)
    dt = select_dtype(dtype, dev, ck.dtype)
    key = (ck.source, ck.processor_source, ck.revision, ck.processor_revision, dev, str(dt),
           bool(trust_remote_code), ck.family)
    if not shared:
        return _load(ck, dev, dt, trust_remote_code)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            hit = _CACHE[key] = _load(ck, dev, dt, trust_remote_code)
        return hit


def _load(ck: Checkpoint, dev: str, dt: Any, trust_remote_code: bool) -> Backbone:
    """Read the weights and processor of ``ck`` onto ``dev`` in ``dt``."""
    if ck.processor_source:
        _check_available(ck, ck.processor_source, ck.processor_revision)
    transformers = _transformers()
    cls = _model_class(ck)
    kwargs: dict[str, Any] = {"dtype": dt, "use_safetensors": True,
                              "trust_remote_code": bool(trust_remote_code)}
    if ck.revision:
        kwargs["revision"] = ck.revision
    hub_kwargs = _hub_kwargs()
    kwargs.update(hub_kwargs)
    if dev.startswith("cuda"):
        kwargs["device_map"] = {"": dev}  # load straight onto the GPU
    try:
        try:
            model = cls.from_pretrained(ck.source, **kwargs)
        except ValueError as exc:
            if not trust_remote_code:
                raise
            # Repository code that does not register an image-text-to-text class.
            raise MetricError(f"{ck.source}: its repository's code gives no {cls.__name__} "
                              f"({_first_line(exc)}); this checkpoint cannot be run through "
                              "videojury's chat-model path") from None
        # The processor comes from the same revision as the weights unless it
        # lives elsewhere.
        proc_rev = ck.processor_revision if ck.processor_source else ck.revision
        proc_kwargs = {"revision": proc_rev} if proc_rev else {}
        proc_kwargs.update(hub_kwargs)
        processor = transformers.AutoProcessor.from_pretrained(
            ck.processor_source or ck.source, trust_remote_code=bool(trust_remote_code),
            **proc_kwargs)
    except OSError as exc:
        msg = str(exc)
        if "safetensors" in msg.lower() or ".bin" in msg:
            raise MetricError(f"{ck.source}: no safetensors weights ({_first_line(exc)}); "
                              "videojury loads .safetensors only. Convert the checkpoint "
                              "(load it and save_pretrained it) or use one that ships "
                              "safetensors") from None
        raise _missing(ck, ck.source, f"could not be loaded ({_first_line(exc)})") from None
    if not dev.startswith("cuda"):
        model = model.to(dev)
    model.eval()
    model.requires_grad_(False)
    tok = getattr(processor, "tokenizer", None)
    if tok is not None and ck.kind == "lmm":
        # Decoder-only batches are padded on the left so every row's last
        # position is its last real token (next-token reads and generation).
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
    _LOADS[ck.source] += 1
    return Backbone(ck, model, processor, dev, dt)


def load_count(source: str | os.PathLike) -> int:
    """How many times the weights at ``source`` were loaded in this process."""
    s = str(source)
    if Path(os.path.expanduser(s)).exists():
        s = str(Path(os.path.expanduser(s)).resolve())
    return _LOADS[s]


def loaded_backbones() -> list[Backbone]:
    """Every backbone loaded so far (in load order)."""
    with _CACHE_LOCK:
        return list(_CACHE.values())


def clear_cache() -> None:
    """Forget every loaded backbone (frees their memory once no metric holds one)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _LOADS.clear()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - extra not installed
        pass
