"""Saving and loading evaluators and resumable checkpoints, safetensors only.

An evaluator folder holds::

    evaluator.json        what it is: base checkpoint, prompts, frames, LoRA
                          layout, head shape, file checksums, training summary
    adapter.safetensors   LoRA matrices (and the projector when it was trained),
                          under their names in the base model
    heads.safetensors     the regression heads

Loading rebuilds the base model, injects LoRA on exactly the modules named
in the JSON, and then demands that the files hold exactly the expected
tensors with the expected shapes: a missing, extra or mis-shaped tensor, a
file whose checksum differs from the one recorded, or a file that is not
valid safetensors each stop the load with a message naming the problem.
Nothing is ever unpickled.

A checkpoint (``checkpoints/step-NNNNNNN/``) is the same weights plus the
optimizer state (tensors in safetensors, the rest in JSON), the random
number generator states and the loop position, so ``--resume`` continues
exactly where the run stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import MetricError
from ..io import write_json

FORMAT = "videojury-evaluator"
FORMAT_VERSION = 1
ADAPTER_FILE = "adapter.safetensors"
HEADS_FILE = "heads.safetensors"
JUDGE_FILE = "judge.safetensors"  # pair judges, only when a pairwise stage trained them
TEMPORAL_FILE = "temporal.safetensors"  # the temporal branch (video net + projector), if any
META_FILE = "evaluator.json"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cpu(tensors: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_tensors(path: Path, tensors: dict[str, Any]) -> None:
    """Write tensors as safetensors (atomically)."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file(_cpu(tensors), str(tmp))
    os.replace(tmp, path)


def read_tensors(path: Path, what: str) -> dict[str, Any]:
    """Read a safetensors file; a missing or unreadable file is a clear :class:`MetricError`."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise MetricError(f"{path}: missing; the {what} folder is incomplete")
    try:
        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise MetricError(f"{path}: not a valid safetensors file ({exc.__class__.__name__}: "
                          f"{exc}); the {what} is corrupt - retrain or copy it again") from None


# --- evaluators --------------------------------------------------------------------

def save_evaluator(folder: str | os.PathLike, evaluator, meta: dict[str, Any],
                   projector: bool) -> Path:
    """Write an evaluator (weights + ``evaluator.json`` with checksums) into ``folder``.

    The folder is written as ``folder.tmp`` and renamed, so a crash never
    leaves a half-written evaluator under the real name.
    """
    from .model import heads_state, judges_state, trainable_state

    out = Path(folder)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_tensors(tmp / ADAPTER_FILE, trainable_state(evaluator, projector))
    save_tensors(tmp / HEADS_FILE, heads_state(evaluator))
    names = [ADAPTER_FILE, HEADS_FILE]
    judges = judges_state(evaluator)
    if judges:
        save_tensors(tmp / JUDGE_FILE, judges)
        names.append(JUDGE_FILE)
    from .temporal import temporal_state

    branch = temporal_state(evaluator)
    if branch:
        save_tensors(tmp / TEMPORAL_FILE, branch)
        names.append(TEMPORAL_FILE)
    meta = dict(meta)
    meta["format"], meta["format_version"] = FORMAT, FORMAT_VERSION
    meta["files"] = {name: sha256_of(tmp / name) for name in names}
    write_json(meta, tmp / META_FILE, sort_keys=True)
    if out.exists():
        old = out.with_name(out.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)
    return out


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """``evaluator.json`` of a folder, checked for format and version."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise MetricError(f"{folder}: no {META_FILE}; not a videojury evaluator folder")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MetricError(f"{path}: cannot be read as JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise MetricError(f"{path}: not a videojury evaluator (format {meta.get('format')!r})")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise MetricError(f"{path}: evaluator format {meta.get('format_version')} is newer than "
                          f"this videojury reads ({FORMAT_VERSION}); upgrade videojury")
    needed = (("vqa", "targets", "files") if meta.get("kind") == "vqa"
              else ("base", "targets", "frames", "head", "files"))
    for key in needed:
        if key not in meta:
            raise MetricError(f"{path}: field {key!r} is missing")
    return meta


def verify_files(folder: Path, meta: dict[str, Any]) -> None:
    """Compare each weights file's SHA-256 with the one recorded at save time."""
    for name, digest in meta["files"].items():
        path = folder / name
        if not path.is_file():
            raise MetricError(f"{path}: missing; the evaluator folder is incomplete")
        got = sha256_of(path)
        if got != digest:
            raise MetricError(f"{path}: checksum mismatch (sha256 {got[:12]}... but "
                              f"{META_FILE} records {digest[:12]}...); the file is corrupt or "
                              "was changed after saving")


def assign_exact(params: dict[str, Any], tensors: dict[str, Any], where: str) -> None:
    """Copy ``tensors`` into ``params`` after checking that the names and shapes match
    exactly; otherwise raise :class:`MetricError` listing what differs."""
    import torch

    missing = sorted(set(params) - set(tensors))
    extra = sorted(set(tensors) - set(params))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} expected tensor(s) missing (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected tensor(s) (e.g. {extra[0]})")
        raise MetricError(f"{where}: {'; '.join(parts)}. The file does not belong to this "
                          "evaluator's layout or base model; nothing was loaded")
    bad = [(k, tuple(tensors[k].shape), tuple(params[k].shape)) for k in sorted(params)
           if tuple(tensors[k].shape) != tuple(params[k].shape)]
    if bad:
        k, got, want = bad[0]
        raise MetricError(f"{where}: tensor {k} has shape {got} but the model expects {want} "
                          f"({len(bad)} mismatched); the evaluator was trained on another "
                          "base model; nothing was loaded")
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(tensors[k].to(dtype=p.dtype, device=p.device))


def load_weights_into(evaluator, folder: Path, meta: dict[str, Any]) -> None:
    """Load an evaluator folder's weights into a freshly built evaluator (strict)."""
    from .model import heads_state, judges_state, trainable_state

    verify_files(folder, meta)
    adapter = read_tensors(folder / ADAPTER_FILE, "evaluator")
    heads = read_tensors(folder / HEADS_FILE, "evaluator")
    assign_exact(trainable_state(evaluator, bool(meta.get("projector_trained"))), adapter,
                 str(folder / ADAPTER_FILE))
    assign_exact(heads_state(evaluator), heads, str(folder / HEADS_FILE))
    judges = judges_state(evaluator)
    if judges or JUDGE_FILE in meta["files"]:
        assign_exact(judges, read_tensors(folder / JUDGE_FILE, "evaluator"),
                     str(folder / JUDGE_FILE))
    from .temporal import temporal_state

    branch = temporal_state(evaluator)
    if branch or TEMPORAL_FILE in meta["files"]:
        assign_exact(branch, read_tensors(folder / TEMPORAL_FILE, "evaluator"),
                     str(folder / TEMPORAL_FILE))


# --- optimizer state and RNG ---------------------------------------------------------

def optimizer_to_files(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a torch optimizer ``state_dict`` into tensors (for safetensors) and JSON."""
    import torch

    tensors: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    for idx, st in state["state"].items():
        for key, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"{idx}.{key}"] = val
            else:
                scalars[f"{idx}.{key}"] = val
    groups = []
    for g in state["param_groups"]:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
    return tensors, {"scalars": scalars, "param_groups": groups,
                     "tuples": [k for k, v in state["param_groups"][0].items()
                                if isinstance(v, tuple)] if state["param_groups"] else []}


def optimizer_from_files(tensors: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`optimizer_to_files`."""
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    for name, val in info["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    tuples = set(info.get("tuples", []))
    groups = [{k: (tuple(v) if k in tuples else v) for k, v in g.items()}
              for g in info["param_groups"]]
    return {"state": state, "param_groups": groups}


def rng_state() -> dict[str, Any]:
    """The torch CPU and CUDA generator states as uint8 tensors."""
    import torch

    out = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"cuda{i}"] = s
    return out


def set_rng_state(tensors: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    import torch

    torch.set_rng_state(tensors["cpu"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("cuda")),
                                      key=lambda k: int(k[4:]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
