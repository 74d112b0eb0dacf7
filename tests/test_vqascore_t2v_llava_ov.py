"""``vqascore:preset=t2v_metrics`` against t2v_metrics 3.0's own LLaVA-OneVision scorer.

The reference numbers below come from ``benchmarks/parity/t2v_metrics/llava_ov_reference.py``:
t2v_metrics' ``LLaVAOneVisionModel.forward`` run unchanged on LLaVA-NeXT's own
``llava`` package (transformers 4.49, decord reading the files) on the tiny
lmms-lab-layout checkpoint of ``llava_ov_inputs.py`` and the lossless clips of
``inputs.py``. This test rebuilds that checkpoint from the same seed, converts
it with :func:`videojury.models.llava_ov_convert.convert_lmms_llava_ov` and
scores with the native class. "file": each clip as a video file; "array": the
16 frames t2v_metrics reads from the clip as a ``.npy`` frames array (videojury
gets the whole clip in memory and picks the same frames).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videojury.data.items import Item
from videojury.errors import InputError
from videojury.metrics import load_metric
from videojury.video import frames_from_array, sample

from ._parity_scripts import load_script
from ._vlm_models import require_models

require_models()

# llava_ov_inputs imports inputs by this name
inputs = load_script("t2v_metrics/inputs.py", "inputs", register=True)
ov_inputs = load_script("t2v_metrics/llava_ov_inputs.py", "llava_ov_inputs", register=True)

# t2v_metrics' scores (float32 probabilities) per clip and prompt of inputs.PROMPTS;
# the reference gives the file and the frames array the same numbers bit for bit
REFERENCE = {"clip0": [0.0005949510377831757, 0.0002598531427793205],
             "clip1": [4.069001442985609e-05, 0.00023301901819650084],
             "clip2": [0.00014619108696933836, 0.00014728600217495114]}
# the frames decord read: np.linspace(0, N - 1, 16, dtype=int)
INDICES = {"clip0": [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7],
           "clip1": [0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29],
           "clip2": [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 10]}
# LLaVA-NeXT resized the model to the tokenizer's 465 ids (the config has 478 rows)
VOCAB_AFTER_RESIZE, CONFIG_VOCAB = 465, 478
ABS, REL = 1e-6, 1e-5  # measured: 2.0e-9 absolute, 3.4e-6 relative (float32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from videojury.models.llava_ov_convert import convert_lmms_llava_ov

    root = tmp_path_factory.mktemp("t2v_llava_ov")
    clips = inputs.write_clips(root / "clips")
    lmms, hub = ov_inputs.build_lmms_checkpoint(root)
    siglip = next((hub / f"models--{ov_inputs.SIGLIP_ID.replace('/', '--')}"
                   / "snapshots").iterdir())
    native = convert_lmms_llava_ov(lmms, root / "native", vision_config=siglip)
    metric = load_metric(f"vqascore:model={native},preset=t2v_metrics")
    return {"root": root, "clips": clips, "lmms": lmms, "siglip": siglip, "native": native,
            "metric": metric}


def _check(got, want):
    for g, w in zip(got, want):
        assert abs(g - w) <= ABS and abs(g - w) <= REL * w, (got, want)


def _scores(metric, frames, path):
    return [metric.score_batch([frames], [Item(path, prompt=p)])[0]["vqascore"]
            for p in inputs.PROMPTS]


# file: clips 1 and 2 here, clip 0 through the whole pipeline below; array: clips 0 and 2
@pytest.mark.parametrize("i", [1, 2])
def test_file_matches_t2v_metrics(setup, i):
    metric, clip = setup["metric"], setup["clips"][i]
    frames = sample(clip, metric.frame_policy())
    assert frames.indices.tolist() == INDICES[f"clip{i}"]
    _check(_scores(metric, frames, str(clip)), REFERENCE[f"clip{i}"])


@pytest.mark.parametrize("i", [0, 2])
def test_array_matches_t2v_metrics(setup, i):
    metric = setup["metric"]
    frames = frames_from_array(inputs.clip_frames(i), inputs.CLIPS[i][3], metric.frame_policy())
    assert frames.indices.tolist() == INDICES[f"clip{i}"]
    _check(_scores(metric, frames, "<memory>"), REFERENCE[f"clip{i}"])


def test_score_run_matches(setup):
    """The whole pipeline (manifest, decoder, executor) gives the reference numbers."""
    import videojury

    clip = setup["clips"][0]
    df = videojury.score([str(clip)] * 2, prompts=list(inputs.PROMPTS),
                         metrics=[f"vqascore:model={setup['native']},preset=t2v_metrics"])
    _check(df["vqascore"].tolist(), REFERENCE["clip0"])


def test_conversion_keeps_every_tensor(setup):
    """Every tensor of the lmms-lab file lands in the native model unchanged."""
    import torch
    from safetensors.torch import load_file

    from videojury.models.llava_ov_convert import native_key

    model = setup["metric"].backbone().model
    state = model.state_dict()
    src = load_file(str(setup["lmms"] / "model.safetensors"))
    for k, v in src.items():
        assert torch.equal(state[native_key(k)], v), k
    assert model.config.vision_config.num_hidden_layers == 2  # the kept layers (folder: 3)
    assert model.config.vision_config.image_size == 384
    tok = setup["metric"].backbone().tokenizer
    assert (len(tok), model.config.text_config.vocab_size) == (VOCAB_AFTER_RESIZE + 2,
                                                               CONFIG_VOCAB)


def test_vocab_cut_matters(setup):
    """The softmax over all 478 rows (the native model's logits) is not t2v_metrics' score:
    the cut to the tokenizer's ids moves it beyond the tolerance."""
    import numpy as np

    from videojury.metrics.vlm import t2v_preset_llava_ov as ov

    metric = setup["metric"]
    bb = metric.backbone()
    frames = sample(setup["clips"][0], metric.frame_policy())
    pv = ov.pixels(frames.array)
    ids = ov.input_ids(bb.tokenizer, bb.model.config,
                       ov.QUESTION.format(inputs.PROMPTS[0]), len(pv))
    yes = ov.answer_id(bb.tokenizer)
    assert ov.text_vocab(bb.tokenizer, bb.model.config) == VOCAB_AFTER_RESIZE
    cut = float(np.exp(ov.next_token_logprobs(bb, pv, ids, VOCAB_AFTER_RESIZE)[yes]))
    full = float(np.exp(ov.next_token_logprobs(bb, pv, ids, CONFIG_VOCAB)[yes]))
    _check([cut], REFERENCE["clip0"][:1])
    # measured: 0.43% of the score (2.6e-6), 430 times the relative tolerance
    assert abs(full - cut) > max(ABS, 100 * REL * cut), (full, cut)


def _copy(setup, dst: Path) -> Path:
    dst.mkdir()
    for f in setup["lmms"].iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_converter_refuses_unknown_and_missing_keys(setup, tmp_path):
    from safetensors.torch import load_file, save_file

    from videojury.models.llava_ov_convert import convert_lmms_llava_ov, native_key

    with pytest.raises(InputError, match="'model.vision_resampler.x' has no place"):
        native_key("model.vision_resampler.x")
    assert native_key("model.layers.0.self_attn.rotary_emb.inv_freq") is None
    src = _copy(setup, tmp_path / "lmms")
    state = load_file(str(src / "model.safetensors"))
    del state["model.mm_projector.2.bias"]
    save_file(state, str(src / "model.safetensors"))
    with pytest.raises(InputError, match="missing .*multi_modal_projector.linear_2.bias"):
        convert_lmms_llava_ov(src, tmp_path / "out", vision_config=setup["siglip"])
    state["model.mm_projector.2.bias"] = state["model.mm_projector.0.bias"].clone()
    state["model.vision_tower.vision_tower.vision_model.head.probe"] = state[
        "model.image_newline"].clone()
    save_file(state, str(src / "model.safetensors"))
    with pytest.raises(InputError, match="left over .*vision_tower.head.probe"):
        convert_lmms_llava_ov(src, tmp_path / "out", vision_config=setup["siglip"])


def test_converter_finds_the_vision_tower_in_the_hub_cache(setup, tmp_path, monkeypatch):
    """Without vision_config=, the SigLIP config is read from the hub cache under the
    checkpoint's mm_vision_tower name; with neither, a tower that is not so400m is refused."""
    from videojury.models.llava_ov_convert import _vision_extra

    cfg = json.loads((setup["lmms"] / "config.json").read_text())
    monkeypatch.setenv("HF_HUB_CACHE", str(setup["root"] / "hub"))
    assert _vision_extra(cfg, 32, None) == {"num_attention_heads": 2, "layer_norm_eps": 1e-6,
                                           "hidden_act": "gelu_pytorch_tanh",
                                           "image_size": 384}
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(InputError, match="pass vision_config="):
        _vision_extra(cfg, 32, None)
    assert _vision_extra(cfg, 1152, None)["num_attention_heads"] == 16


def test_converter_ties_lm_head(setup, tmp_path):
    """A checkpoint with tied embeddings (the 0.5B ones) has no lm_head tensor; the native
    model's head is the embedding."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import LlavaOnevisionForConditionalGeneration

    from videojury.models.llava_ov_convert import convert_lmms_llava_ov

    src = _copy(setup, tmp_path / "lmms")
    cfg = json.loads((src / "config.json").read_text())
    cfg["tie_word_embeddings"] = True
    (src / "config.json").write_text(json.dumps(cfg))
    state = load_file(str(src / "model.safetensors"))
    del state["lm_head.weight"]
    save_file(state, str(src / "model.safetensors"))
    out = convert_lmms_llava_ov(src, tmp_path / "out", vision_config=setup["siglip"])
    model = LlavaOnevisionForConditionalGeneration.from_pretrained(out)
    assert torch.equal(model.lm_head.weight, state["model.embed_tokens.weight"])


@pytest.mark.parametrize("field, value, word", [
    ("mm_newline_position", "grid", "mm_newline_position='grid'"),
    ("mm_spatial_pool_mode", "average", "mm_spatial_pool_mode='average'"),
    ("mm_patch_merge_type", "flat", "adds no newline"),
    ("mm_use_im_patch_token", True, "im_patch"),
    ("model_type", "llava_llama", "model_type='llava_llama'"),
])
def test_converter_refuses_other_video_paths(setup, field, value, word):
    from videojury.models.llava_ov_convert import check_lmms_config

    cfg = json.loads((setup["lmms"] / "config.json").read_text())
    check_lmms_config(cfg)
    cfg[field] = value
    with pytest.raises(InputError, match=word):
        check_lmms_config(cfg)


def test_frame_policy_and_index_rule(setup):
    import numpy as np

    from videojury.video.sampling import linspace_int_indices

    assert setup["metric"].frame_policy().describe() == "linspace(16)"
    for n in (1, 5, 16, 17, 30, 299, 1001):
        assert linspace_int_indices(n, 16).tolist() == np.linspace(0, n - 1, 16,
                                                                   dtype=int).tolist()


def test_lmms_folder_unconverted_refused_with_the_command(setup):
    from videojury.errors import MetricError

    metric = load_metric(f"vqascore:model={setup['lmms']},preset=t2v_metrics")
    with pytest.raises(MetricError, match="convert it with python -m "
                                          "videojury.models.llava_ov_convert"):
        metric.frame_policy()
