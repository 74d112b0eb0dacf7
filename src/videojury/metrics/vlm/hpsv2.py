"""HPSv2 per frame: Human Preference Score v2 (Wu et al., 2023), averaged over frames.

HPSv2 is an OpenCLIP ViT-H-14 fine-tuned on human preferences; its score is
the cosine of the L2-normalised image and prompt embeddings (the package's
``img_score.score``: ``image_features @ text_features.T``, no logit scale),
about 0.2-0.3 for typical images. The architecture is open_clip's, as in the
reference (which vendors an older open_clip); the official checkpoints are
``HPS_v2_compressed.pt`` (v2.0) and ``HPS_v2.1_compressed.pt`` (v2.1) on the
hub repository ``xswu/HPSv2`` (Apache-2.0), a dict whose ``state_dict`` holds
open_clip's keys. They are read with ``torch.load(weights_only=True)`` and
loaded strictly (a missing or unexpected key is an error naming it).

Preprocessing is the reference's ``preprocess_val`` (its
``light_augmentation=True`` path): the frame as a float tensor in [0, 1],
resized with torchvision's bicubic tensor resize so that its longer side is
the model's input size, padded with zeros (centred) to a square, then
normalised with OpenAI's mean/std. Frames: 8 uniform, at full resolution.

Options: ``weights`` (``v2.0``, ``v2.1`` or a local file), ``arch`` (an
open_clip model name, default ``ViT-H-14``, or a JSON model config file),
``device``, ``batch_size``, ``frames``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames
from ..base import Metric, ScoreField, register_metric
from ._common import load_fitting

HUB_REPO = "xswu/HPSv2"
VERSIONS = {"v2.0": "HPS_v2_compressed.pt", "v2.1": "HPS_v2.1_compressed.pt"}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
_LOCK = threading.Lock()


def read_state(path: str | Path) -> dict[str, Any]:
    """The ``state_dict`` of an HPSv2 checkpoint file (weights only, never unpickled code)."""
    import torch

    p = Path(path)
    try:
        ck = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise MetricError(f"hpsv2: {p} is not a plain tensor checkpoint (torch.load weights_only "
                          f"refused it: {e})") from None
    sd = ck.get("state_dict", ck) if isinstance(ck, dict) else None
    if not isinstance(sd, dict):
        raise MetricError(f"hpsv2: {p} holds no state dict")
    return sd


def preprocess(frame: np.ndarray, size: int):
    """One (H, W, 3) uint8 frame -> (3, size, size) float tensor, as HPSv2's ``preprocess_val``."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div(255.0)
    h, w = x.shape[1:]
    scale = size / float(max(h, w))
    if scale != 1.0:
        nh, nw = round(h * scale), round(w * scale)
        x = tvf.resize(x, [nh, nw], InterpolationMode.BICUBIC)
        ph, pw = size - nh, size - nw
        x = tvf.pad(x, [pw // 2, ph // 2, pw - pw // 2, ph - ph // 2], fill=0)
    return tvf.normalize(x, OPENAI_MEAN, OPENAI_STD)


@register_metric
class HPSv2(Metric):
    """HPSv2 image-prompt preference score of each frame, averaged over frames."""

    name = "hpsv2"
    version = "1"
    extra = "models"
    needs_prompt = True
    fields = (ScoreField("hpsv2", -1.0, 1.0, True,
                         "mean over frames of HPSv2's image-prompt cosine (typically 0.2-0.3)"),)
    description = "Human Preference Score v2 (OpenCLIP ViT-H-14) per frame, averaged."
    reference = "HPSv2 (Wu et al., 2023); HPSv2 in LOVE's V2T tables"
    default_options = {"weights": "v2.0", "arch": "ViT-H-14", "device": "", "batch_size": 8,
                       "frames": 8}
    runtime_options = frozenset({"device", "batch_size"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.batch_size = max(1, int(self.options["batch_size"]))
        if self.options["frames"] < 1:
            raise MetricError("hpsv2: frames must be >= 1")
        w = self.options["weights"]
        if w not in VERSIONS and not Path(w).is_file():
            raise MetricError(f"hpsv2: weights={w!r} is neither {' nor '.join(VERSIONS)} nor a file")
        self._model = None

    def frame_policy(self) -> FramePolicy:
        return FramePolicy.uniform(int(self.options["frames"]))

    def _weights_file(self) -> str:
        w = self.options["weights"]
        if w in VERSIONS:
            from huggingface_hub import hf_hub_download

            try:
                return hf_hub_download(HUB_REPO, VERSIONS[w])
            except Exception as e:  # noqa: BLE001 - offline, not cached, no network
                raise MetricError(f"hpsv2: cannot get {VERSIONS[w]} from {HUB_REPO} ({e}); run "
                                  f"`hf download {HUB_REPO} {VERSIONS[w]}` or pass weights=PATH") from None
        return w

    def identity(self, hash_file) -> dict[str, str]:
        ident = {"weights": hash_file(self._weights_file())}
        arch = self.options["arch"]
        if arch.endswith(".json"):
            ident["arch"] = hash_file(arch)
        return ident

    def load(self) -> None:
        if self._model is not None:
            return
        import open_clip
        import torch

        weights = self._weights_file()  # before building ViT-H (4.6 GB): a missing file fails fast
        arch = self.options["arch"]
        with _LOCK:
            if arch.endswith(".json"):
                if not Path(arch).is_file():
                    raise MetricError(f"hpsv2: arch file {arch!r} does not exist")
                open_clip.add_model_config(arch)
                arch = Path(arch).stem
            try:
                model = open_clip.create_model(arch, pretrained=None, precision="fp32", device="cpu",
                                               output_dict=True)
            except RuntimeError as e:
                raise MetricError(f"hpsv2: unknown open_clip model {arch!r} ({e})") from None
        sd = read_state(weights)
        sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
        load_fitting(model, sd, f"hpsv2: the checkpoint does not fit {arch}")
        device = self.options["device"] or ("cuda" if torch.cuda.is_available() else "cpu")
        self._device = device
        self._model = model.to(device).eval()
        self._tokenizer = open_clip.get_tokenizer(arch)
        size = model.visual.image_size
        self._size = int(size[0] if isinstance(size, (tuple, list)) else size)

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        import torch

        self.load()
        model = self._model
        texts = [it.prompt or "" for it in items]
        uniq = sorted(set(texts))
        with torch.inference_mode():
            tok = self._tokenizer(uniq).to(self._device)
            t = torch.nn.functional.normalize(model.encode_text(tok).float(), dim=-1)
            flat = [f for fr in frames for f in fr.array]
            embs = []
            for j in range(0, len(flat), 32):
                with self.timed("preprocess"):
                    px = torch.stack([preprocess(f, self._size) for f in flat[j:j + 32]]).to(self._device)
                embs.append(torch.nn.functional.normalize(model.encode_image(px).float(), dim=-1))
            img = torch.cat(embs).cpu().numpy()
        txt = t.cpu().numpy()
        row = {s: i for i, s in enumerate(uniq)}
        out, k = [], 0
        for fr, s in zip(frames, texts):
            n = len(fr)
            out.append({"hpsv2": float(np.mean(img[k:k + n] @ txt[row[s]]))})
            k += n
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_model"] = None
        return state

