"""The reference side of the fga_blip2 parity check: EvalMuse's own FGA_Blip2 and LAVIS code.

    PYTHONPATH=/tmp/tf4:/tmp/fgaref/deps python reference.py /tmp/fgaref/EvalMuse OUT

(README.md says how to get the three folders.) EvalMuse's ``lavis/`` is used
as the repository ships it; its package ``__init__``s (which import every
LAVIS dataset, task and runner) are bypassed by entering the packages bare,
and fairscale's ``checkpoint_wrapper`` (CLIP-ViT only) is stubbed. Three
download points are redirected, nothing else: ``create_eva_vit_g`` (which
fetches eva_vit_g.pth) builds the same ``VisionTransformer`` class with
weights.py's small sizes, ``BertConfig.from_pretrained("bert-base-uncased")``
returns a small BERT config, ``BertLMHeadModel.from_pretrained`` builds the
class without fetching BERT's weights, and ``BertTokenizer.from_pretrained``
reads weights.py's vocabulary. The model is then EvalMuse's ``FGA_Blip2``
(its ``__init__`` unchanged: tokenizer with [DEC], resize of the word
embeddings, query-FFN copies, heads), the checkpoint loaded with every key
used (no missing or unexpected key), and each frame scored as eval.py does:
``BlipImageEvalProcessor(image_size)`` on the PIL frame, ``BlipCaptionProcessor``
on the prompt, ``model.element_score(image[None], [prompt])``; the alignment
score is its first output. Writes OUT/reference.json.
"""

import json
import sys
import types
from functools import partial
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
for name in ("lavis", "lavis.common", "lavis.models", "lavis.models.blip2_models", "lavis.models.blip_models",
             "lavis.processors"):
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(root / name.replace(".", "/"))]
    sys.modules[name] = pkg

from lavis.models import base_model, eva_vit  # noqa: E402
from lavis.processors import base_processor  # noqa: E402

# the registry's decorators check subclasses of these, which the bare packages must export
sys.modules["lavis.models"].BaseModel = base_model.BaseModel
sys.modules["lavis.processors"].BaseProcessor = base_processor.BaseProcessor
from lavis.models.blip2_models import Qformer, blip2  # noqa: E402
from lavis.models.blip2_models.fga_blip2 import FGA_Blip2  # noqa: E402
from lavis.processors.blip_processors import BlipCaptionProcessor, BlipImageEvalProcessor  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import weights  # noqa: E402

torch.set_num_threads(1)
files = weights.make(out)


def small_eva_vit(img_size=224, drop_path_rate=0.4, use_checkpoint=False, precision="fp16"):
    # create_eva_vit_g's own arguments with weights.py's width/depth; no eva_vit_g.pth download
    return eva_vit.VisionTransformer(img_size=img_size, patch_size=weights.PATCH, use_mean_pooling=False,
                                     embed_dim=weights.W, depth=weights.DEPTH, num_heads=weights.W // 88,
                                     mlp_ratio=4.3637, qkv_bias=True,
                                     drop_path_rate=drop_path_rate, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                                     use_checkpoint=use_checkpoint)


def small_bert_config(name, **k):
    return Qformer.BertConfig(vocab_size=30522, hidden_size=weights.H, num_hidden_layers=weights.LAYERS,
                              num_attention_heads=weights.H // 64, intermediate_size=weights.INTER,
                              max_position_embeddings=weights.MAXPOS, hidden_act="gelu", layer_norm_eps=1e-12,
                              hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, pad_token_id=0)


blip2.create_eva_vit_g = small_eva_vit
Qformer.BertConfig.from_pretrained = classmethod(lambda cls, name, **k: small_bert_config(name))
Qformer.BertLMHeadModel.from_pretrained = classmethod(lambda cls, name, config=None, **k: cls(config))
_tok = blip2.BertTokenizer.from_pretrained
blip2.BertTokenizer.from_pretrained = lambda name, **k: _tok(str(files["tokenizer"]), **k)

model = FGA_Blip2(img_size=weights.IMAGE, vit_precision="fp32", freeze_vit=True, num_query_token=weights.NQ,
                  cross_attention_freq=weights.FREQ)
ckpt = torch.load(files["weights"], map_location="cpu", weights_only=True)
res = model.load_state_dict(ckpt["model"], strict=False)
print("reference keys not in the checkpoint:", res.missing_keys, "unexpected:", res.unexpected_keys)
assert not res.unexpected_keys and not res.missing_keys, "the checkpoint does not fit the reference"
model.eval()
vis, txt = BlipImageEvalProcessor(image_size=weights.IMAGE), BlipCaptionProcessor()

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
from videojury.metrics import load_metric  # noqa: E402
from videojury.video import frames_from_array  # noqa: E402

metric = load_metric("fga_blip2", model=str(files["weights"]), tokenizer=str(files["tokenizer"]))
per_frame, tokens = [], []
with torch.no_grad():
    for clip, prompt in zip(np.load(files["frames"]), weights.PROMPTS):
        sampled = frames_from_array(clip, 8.0, metric.frame_policy())
        scores, toks = [], []
        for f in sampled.array:
            a, t = model.element_score(vis(Image.fromarray(f).convert("RGB"))[None], [txt(prompt)])
            scores.append(float(a))
            toks.append([float(x) for x in t[0]])
        per_frame.append(scores)
        tokens.append(toks)
doc = {"per_frame": per_frame, "per_clip": [float(np.mean(s)) for s in per_frame],
       "token_scores_frame0": [t[0] for t in tokens], "captions": [txt(p) for p in weights.PROMPTS]}
(out / "reference.json").write_text(json.dumps(doc, indent=1))
print(json.dumps(doc["per_clip"]))
