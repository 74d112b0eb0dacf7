"""The reference side of the laion_aesthetic parity check: OpenAI's CLIP code and the
predictor's own recipe, on the seeded inputs of weights.py.

    python reference.py CLIP_CHECKOUT OUT

CLIP_CHECKOUT: a checkout of github.com/openai/CLIP (its ``clip/`` package is
imported from there: ``clip.model.build_model`` builds the network from the
OpenAI-format state dict, ``clip.clip._transform`` is its preprocessing).
The predictor's steps are those of improved-aesthetic-predictor's
``simple_inference.py``: ``encode_image``, L2-normalise in numpy (a zero norm
left as 1), the MLP (Linear layers at Sequential indices 0, 2, 4, 6, 7;
dropouts inactive in eval), one score per frame; frames averaged per clip as
the videojury metric does. The frames given to both sides are videojury's
sampled frames (its decoder and resizing are not what is compared here).
Writes OUT/reference.json: {"per_frame": [[...]], "per_clip": [...]}.
"""

import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

checkout, out = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(checkout))
if "pkg_resources" not in sys.modules:  # clip/clip.py reads packaging through pkg_resources
    import packaging.version

    sys.modules["pkg_resources"] = types.SimpleNamespace(packaging=packaging)
from clip.clip import _transform  # noqa: E402
from clip.model import build_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import weights  # noqa: E402

from videojury.metrics import load_metric  # noqa: E402
from videojury.video import frames_from_array  # noqa: E402

torch.set_num_threads(1)
files = weights.make(out)
model = build_model(torch.load(files["clip_openai"], weights_only=True)).float().eval()
preprocess = _transform(model.visual.input_resolution)

head_sd = torch.load(files["head"], weights_only=True)
sizes = [head_sd[f"layers.{i}.weight"].shape for i in (0, 2, 4, 6, 7)]
mlp = torch.nn.Module()  # the reference's MLP keeps its Sequential as .layers
mlp.layers = torch.nn.Sequential(
    torch.nn.Linear(sizes[0][1], sizes[0][0]), torch.nn.Dropout(0.2),
    torch.nn.Linear(sizes[1][1], sizes[1][0]), torch.nn.Dropout(0.2),
    torch.nn.Linear(sizes[2][1], sizes[2][0]), torch.nn.Dropout(0.1),
    torch.nn.Linear(sizes[3][1], sizes[3][0]), torch.nn.Linear(sizes[4][1], sizes[4][0]))
mlp.load_state_dict(head_sd)
mlp.eval()


def normalized(a, axis=-1, order=2):
    l2 = np.atleast_1d(np.linalg.norm(a, order, axis))
    l2[l2 == 0] = 1
    return a / np.expand_dims(l2, axis)


metric = load_metric("laion_aesthetic", model=str(files["clip_hf"]), head=str(files["head"]))
per_frame = []
for clip in np.load(files["frames"]):
    sampled = frames_from_array(clip, 8.0, metric.frame_policy())
    scores = []
    for f in sampled.array:
        image = preprocess(Image.fromarray(f)).unsqueeze(0)
        with torch.no_grad():
            feats = model.encode_image(image)
        emb = normalized(feats.cpu().detach().numpy())
        scores.append(float(mlp.layers(torch.from_numpy(emb).float()).item()))
    per_frame.append(scores)
doc = {"per_frame": per_frame, "per_clip": [float(np.mean(s)) for s in per_frame]}
(out / "reference.json").write_text(json.dumps(doc, indent=1))
print(json.dumps(doc["per_clip"]))
