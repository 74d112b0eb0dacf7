"""The test-time views of FAST-VQA / FasterVQA and DOVER, as their inference scripts make them.

Temporal sampling
  * FAST-VQA (``vqa.py``, ``SampleFrames`` test mode): ``num_clips`` clips of
    32 consecutive frames, clip ``i`` starting at
    ``int(i * a + a / 2)`` with ``a = (N - 31) / num_clips`` (4 clips for
    FAST-VQA, 1 for FasterVQA: ``vqa.py`` reads ``t_frag`` from the dataset
    options, where FasterVQA's file does not put it, so both use this
    sampler); indices wrap modulo ``N``. No randomness.
  * DOVER (``UnifiedFrameSampler``): the video is cut in ``k`` equal segments
    (3 for the technical view, 32 for the aesthetic one); each contributes
    ``32`` (resp. 1) frames 2 apart from a random offset in
    ``[0, N // k - 64)`` (resp. ``[0, N // k - 2)``) when the segment is long
    enough, else from its start.

Spatial sampling
  * Fragments (``get_spatial_fragments``): a 7x7 grid over the frame; from
    each cell a 32x32 patch at a random offset inside the cell (the same
    offset for every frame of an ``aligned``-frame chunk: 32 frames for
    FAST-VQA and DOVER, 8 for FasterVQA), spliced into a 224x224 frame.
    Frames whose short side is under 224 are first upscaled (bilinear) so it
    is 224; the grid is then laid on the *original* size, as the official
    code does.
  * Aesthetic view (DOVER): every frame resized to 224x224 (torchvision's
    bilinear, antialiased resize on uint8).

Where the official code draws at random (NumPy's global generator for the
temporal offsets, torch's for the spatial ones), these functions draw the
same numbers from generators seeded with ``seed``: the official code run
after ``np.random.seed(seed); torch.manual_seed(seed)`` samples the same
views (``benchmarks/parity/``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import MetricError

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


def test_clip_indices(n: int, clip_len: int = 32, num_clips: int = 1) -> np.ndarray:
    """FAST-VQA's ``SampleFrames(clip_len, 1, num_clips)`` in test mode."""
    avg = (n - clip_len + 1) / float(num_clips)
    if n > clip_len - 1:
        offsets = (np.arange(num_clips) * avg + avg / 2.0).astype(np.int32)
    else:
        offsets = np.zeros((num_clips,), dtype=np.int32)
    idx = offsets[:, None] + np.arange(clip_len)[None, :]
    return np.mod(idx.reshape(-1), n).astype(np.int32)


def unified_indices(n: int, fsize_t: int, fragments_t: int, frame_interval: int,
                    rng: np.random.RandomState, num_clips: int = 1) -> np.ndarray:
    """DOVER's ``UnifiedFrameSampler(fsize_t, fragments_t, frame_interval, num_clips)``."""
    out = []
    for _ in range(num_clips):
        grids = np.array([n // fragments_t * i for i in range(fragments_t)], dtype=np.int32)
        length = n // fragments_t
        if length > fsize_t * frame_interval:
            rnd = rng.randint(0, length - fsize_t * frame_interval, size=len(grids))
        else:
            rnd = np.zeros(len(grids), dtype=np.int32)
        out.append((np.arange(fsize_t)[None, :] * frame_interval + rnd[:, None]
                    + grids[:, None]).reshape(-1))
    return np.mod(np.concatenate(out), n).astype(np.int32)


@dataclass(frozen=True)
class FragmentPlan:
    """Where each 32x32 patch comes from: per ``aligned``-frame chunk, per grid cell."""

    res_h: int
    res_w: int
    scale: float | None  # bilinear upscale factor applied first (None: none)
    h_starts: np.ndarray  # (7, 7, chunks) row of each patch in the (upscaled) frame
    w_starts: np.ndarray
    aligned: int
    frags: int = 7
    fsize: int = 32


def fragment_plan(res_h: int, res_w: int, n_frames: int, aligned: int, gen,
                  frags: int = 7, fsize: int = 32) -> FragmentPlan:
    """The random patch offsets of ``get_spatial_fragments`` (drawn from ``gen``)."""
    import torch

    if min(res_h, res_w) < fsize:
        raise MetricError(f"frames of {res_w}x{res_h} are too small for fragment sampling: "
                          f"FAST-VQA and DOVER take {fsize}x{fsize} patches and need at least "
                          f"{fsize} pixels a side")
    if n_frames % aligned:
        raise MetricError(f"{n_frames} frames do not split into chunks of {aligned}")
    size = frags * fsize
    ratio = min(res_h / size, res_w / size)
    scale = 1 / ratio if ratio < 1 else None
    chunks = n_frames // aligned
    hgrid = np.array([min(res_h // frags * i, res_h - fsize) for i in range(frags)])
    wgrid = np.array([min(res_w // frags * i, res_w - fsize) for i in range(frags)])
    hl, wl = res_h // frags, res_w // frags
    rh = (torch.randint(hl - fsize, (frags, frags, chunks), generator=gen).numpy()
          if hl > fsize else np.zeros((frags, frags, chunks), np.int64))
    rw = (torch.randint(wl - fsize, (frags, frags, chunks), generator=gen).numpy()
          if wl > fsize else np.zeros((frags, frags, chunks), np.int64))
    return FragmentPlan(res_h, res_w, scale, hgrid[:, None, None] + rh,
                        wgrid[None, :, None] + rw, aligned, frags, fsize)


def fragment_frame(frame, plan: FragmentPlan, pos: int):
    """The 224x224 fragment frame for position ``pos`` of the sampled clip.

    ``frame``: uint8 tensor (3, H, W). Returns float32 (3, 224, 224) with
    values 0..255 (integers, as the official code's uint8 crops).
    """
    import torch
    import torch.nn.functional as F

    if plan.scale is not None:
        up = F.interpolate(frame[None].float() / 255.0, scale_factor=plan.scale, mode="bilinear")
        frame = (up[0] * 255.0).to(torch.uint8)
    f, s = plan.frags, plan.fsize
    t = pos // plan.aligned
    out = torch.zeros((3, f * s, f * s), dtype=torch.float32)
    for i in range(f):
        for j in range(f):
            h0, w0 = int(plan.h_starts[i, j, t]), int(plan.w_starts[i, j, t])
            out[:, i * s:(i + 1) * s, j * s:(j + 1) * s] = frame[:, h0:h0 + s, w0:w0 + s]
    return out


def aesthetic_frame(frame, size: int = 224):
    """DOVER's aesthetic view of one frame: torchvision's Resize((224, 224)) on uint8."""
    from torchvision.transforms.functional import resize

    return resize(frame, [size, size], antialias=True).float()


def normalize(clip):
    """(3, T, H, W) 0..255 -> ImageNet-normalised, as the inference scripts do."""
    import torch

    mean = torch.tensor(MEAN).view(3, 1, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1, 1)
    return (clip - mean) / std


def gather(frames, wanted: dict[str, np.ndarray], build) -> dict:
    """Stream ``frames`` once; for each view name, ``build(name, pos, tensor)`` per needed frame.

    ``wanted[name]`` is the view's frame indices in order (repeats allowed).
    Returns ``{name: [per-position tensors]}``.
    """
    import torch

    need: dict[int, list[tuple[str, int]]] = {}
    for name, idx in wanted.items():
        for pos, fi in enumerate(idx.tolist()):
            need.setdefault(int(fi), []).append((name, pos))
    out = {name: [None] * len(idx) for name, idx in wanted.items()}
    last = max(need) if need else -1
    for fi, arr in zip(frames.indices.tolist(), frames.iter()):
        if fi in need:
            t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)
            for name, pos in need[fi]:
                out[name][pos] = build(name, pos, t)
        if fi >= last:
            break
    missing = [n for n, lst in out.items() if any(v is None for v in lst)]
    if missing:
        raise MetricError(f"{frames.info.path}: the video ended before frame {last} "
                          f"(it reports {frames.info.frame_count} frames)")
    return out
