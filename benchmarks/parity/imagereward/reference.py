"""The reference side of the imagereward parity check: the ``image-reward`` wheel's own code.

    pip install --no-deps --target /tmp/irpkg image-reward
    pip install --no-deps --target /tmp/tf4 "transformers==4.46.3" "tokenizers<0.21" "huggingface-hub<1.0"
    PYTHONPATH=/tmp/tf4 python reference.py /tmp/irpkg/ImageReward OUT

BLIP's ``med.py`` needs transformers 4 (its ``PreTrainedModel`` internals), hence
/tmp/tf4. The package ``__init__``s import training-only dependencies (ReFL:
datasets, diffusers; AestheticScore: clip), so ``ImageReward`` and
``ImageReward.models`` are entered as bare packages; fairscale's
``checkpoint_wrapper`` (gradient checkpointing only) is stubbed. The model is
``ImageReward.ImageReward`` with its BLIP sized like weights.py's checkpoint
(the reference's own ``VisionTransformer``, ``BertModel`` and ``MLP`` classes),
the checkpoint loaded strictly, and ``ImageReward.score(prompt, image)`` run
unchanged on videojury's sampled frames. Writes OUT/reference.json.
"""

import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

root, out = Path(sys.argv[1]), Path(sys.argv[2])
ca = types.ModuleType("fairscale.nn.checkpoint.checkpoint_activations")
ca.checkpoint_wrapper = lambda m, **k: m
sys.modules.update({"fairscale": types.ModuleType("fairscale"), "fairscale.nn": types.ModuleType("fairscale.nn"),
                    "fairscale.nn.checkpoint": types.ModuleType("fairscale.nn.checkpoint"),
                    "fairscale.nn.checkpoint.checkpoint_activations": ca})
for name, path in (("ImageReward", root), ("ImageReward.models", root / "models")):
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(path)]
    sys.modules[name] = pkg
from ImageReward.ImageReward import MLP, ImageReward, _transform  # noqa: E402
from ImageReward.models.BLIP import blip as blip_mod  # noqa: E402
from ImageReward.models.BLIP.blip_pretrain import BLIP_Pretrain  # noqa: E402
from ImageReward.models.BLIP.med import BertConfig, BertModel  # noqa: E402
from ImageReward.models.BLIP.vit import VisionTransformer  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import weights  # noqa: E402

torch.set_num_threads(1)
files = weights.make(out)
_from_pretrained = blip_mod.BertTokenizer.from_pretrained
blip_mod.BertTokenizer.from_pretrained = lambda name, **k: _from_pretrained(str(files["tokenizer"]))

model = ImageReward.__new__(ImageReward)
torch.nn.Module.__init__(model)
model.device = "cpu"
blip = BLIP_Pretrain(med_config=str(files["med_config"]), image_size=weights.IMAGE, vit="base")
blip.visual_encoder = VisionTransformer(img_size=weights.IMAGE, patch_size=weights.PATCH, embed_dim=weights.W,
                                        depth=weights.LAYERS, num_heads=1)
cfg = BertConfig.from_json_file(str(files["med_config"]))
cfg.encoder_width = weights.W
blip.text_encoder = BertModel(config=cfg, add_pooling_layer=False)
blip.vision_proj = torch.nn.Linear(weights.W, 256)
blip.text_proj = torch.nn.Linear(weights.HIDDEN, 256)
model.blip = blip
model.preprocess = _transform(weights.IMAGE)
model.mlp = MLP(weights.HIDDEN)
model.mean, model.std = 0.16717362830052426, 1.0333394966054072
res = model.load_state_dict(torch.load(files["weights"], map_location="cpu", weights_only=True), strict=False)
print("reference keys not in the checkpoint:", res.missing_keys, "unexpected:", res.unexpected_keys)
assert not res.unexpected_keys and not res.missing_keys, "the checkpoint does not fit the reference"
model.eval()

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
from videojury.metrics import load_metric  # noqa: E402
from videojury.video import frames_from_array  # noqa: E402

metric = load_metric("imagereward", weights=str(files["weights"]), med_config=str(files["med_config"]),
                     tokenizer=str(files["tokenizer"]))
per_frame = []
with torch.no_grad():
    for clip, prompt in zip(np.load(files["frames"]), weights.PROMPTS):
        sampled = frames_from_array(clip, 8.0, metric.frame_policy())
        per_frame.append([float(model.score(prompt, Image.fromarray(f))) for f in sampled.array])
doc = {"per_frame": per_frame, "per_clip": [float(np.mean(s)) for s in per_frame]}
(out / "reference.json").write_text(json.dumps(doc, indent=1))
print(json.dumps(doc["per_clip"]))
