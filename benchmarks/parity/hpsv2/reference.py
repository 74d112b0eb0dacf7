"""The reference side of the hpsv2 parity check: the ``hpsv2`` package's own ``img_score.score``.

    pip install --no-deps --target /tmp/hpsv2pkg hpsv2
    cp CLIP_CHECKOUT/clip/bpe_simple_vocab_16e6.txt.gz /tmp/hpsv2pkg/hpsv2/src/open_clip/
    PYTHONPATH=/tmp/hpsv2pkg python reference.py OUT

(the wheel lacks its BPE vocabulary file; it is OpenAI CLIP's, copied in.) The
package's vendored open_clip builds the tiny config of weights.py with the
arguments ``img_score.initialize_model`` uses (``light_augmentation=True``,
``output_dict=True``); that model and its ``preprocess_val`` are put in
``img_score.model_dict`` and ``img_score.score(image, prompt, cp=checkpoint)``
runs unchanged (it loads the checkpoint's ``state_dict`` itself). Frames are
videojury's sampled frames. Writes OUT/reference.json.
"""

import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

out = Path(sys.argv[1])
sys.modules.setdefault("clint", types.ModuleType("clint"))  # img_score imports clint's progress bar
textui = types.ModuleType("clint.textui")
textui.progress = None
sys.modules["clint.textui"] = textui
import hpsv2.img_score as img_score  # noqa: E402
from hpsv2.src.open_clip import factory  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import weights  # noqa: E402

from videojury.metrics import load_metric  # noqa: E402
from videojury.video import frames_from_array  # noqa: E402

torch.set_num_threads(1)
files = weights.make(out)
factory.add_model_config(str(files["arch"]))
model, _, preprocess_val = factory.create_model_and_transforms(
    "hps-tiny", None, precision="amp", device="cpu", jit=False, force_quick_gelu=False,
    force_custom_text=False, force_patch_dropout=False, force_image_size=None, pretrained_image=False,
    image_mean=None, image_std=None, light_augmentation=True, aug_cfg={}, output_dict=True,
    with_score_predictor=False, with_region_predictor=False)
img_score.model_dict["model"] = model
img_score.model_dict["preprocess_val"] = preprocess_val
img_score.device = "cpu"

metric = load_metric("hpsv2", weights=str(files["weights"]), arch=str(files["arch"]))
per_frame = []
for clip, prompt in zip(np.load(files["frames"]), weights.PROMPTS):
    sampled = frames_from_array(clip, 8.0, metric.frame_policy())
    per_frame.append([float(img_score.score(Image.fromarray(f), prompt, cp=str(files["weights"]))[0])
                      for f in sampled.array])
doc = {"per_frame": per_frame, "per_clip": [float(np.mean(s)) for s in per_frame]}
(out / "reference.json").write_text(json.dumps(doc, indent=1))
print(json.dumps(doc["per_clip"]))
