"""LOVE's released evaluators (love_perception / love_correspondence / love_qa).

Reference numbers come from LOVE's own code (IntMeGroup/LOVE ``InternVLChatModel``
and the ``LazySupervisedDataset`` of ``train/infer_perception.py``) run by
``benchmarks/parity/love/reference.py`` on the seeded tiny checkpoint that
:func:`videojury.models.love.build_tiny_love` writes in LOVE's layout (seed 0)
and the clip below; see that folder's README for the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from videojury.errors import MetricError  # noqa: E402
from videojury.models import love as L  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import _vqa_clips  # noqa: E402

# LOVE's InternVLChatModel(tiny config).state_dict() has 243 keys: the 231 the
# builder writes plus 12 relative_position_index buffers (rebuilt from the window size)
LOVE_MODEL_KEYS = 243
LOVE_BUFFERS = 12
# reference.py --aspect perception on clip a (96x72, 24 frames), seed 0, float32
REF_SCORE = 5.847299098968506
REF_LOGITS = [-0.31551486253738403, -0.4414554536342621, 1.6231961250305176,
              1.1870577335357666, 1.0068978071212769, 1.1476730108261108,
              -0.9998037815093994, 0.8492738604545593]


def test_prompt_text_is_loves():
    text = L.build_text(*L.PROMPTS["perception"], num_image_token=256)
    assert text.startswith("<|im_start|>system\n" + L.SYSTEM + "<|im_end|><|im_start|>user\n"
                           "Frame1: <img>")
    assert text.count(L.IMG_CONTEXT) == 8 * 256 + 4
    # twelve <image> are replaced; the thirteenth (Motion Feature2) stays as text
    assert text.count("<image>") == 1
    assert "Motion Feature: " + f"{L.IMG_START}{L.IMG_CONTEXT}{L.IMG_END}" * 4 in text
    assert ("\nMotion Feature2: <image>How is the quality of the video?<|im_end|>"
            "<|im_start|>assistant\nThe quality of the video is good.<|im_end|>") in text
    assert text[L.answer_start(text):].startswith("The quality")


def test_wqkv_split_matches_internlm2_grouped_layout():
    kv, groups, d, hidden = 2, 3, 4, 8
    w = torch.randn(kv * (groups + 2) * d, hidden)
    x = torch.randn(5, hidden)
    # InternLM2Attention: 'b q (h gs d) -> b q h gs d'; q = [..., :gs-2, :] -> (h gs) heads
    qkv = (x @ w.T).reshape(5, kv, groups + 2, d)
    q_ref = qkv[:, :, :groups].reshape(5, kv * groups, d)
    k_ref, v_ref = qkv[:, :, -2], qkv[:, :, -1]
    q, k, v = L._split_wqkv(w, kv, groups, d)
    # (matmul shapes differ, so equal to float rounding; a wrong split is off by O(1))
    assert torch.allclose((x @ q.T).reshape(5, kv * groups, d), q_ref, atol=1e-5)
    assert torch.allclose((x @ k.T).reshape(5, kv, d), k_ref, atol=1e-5)
    assert torch.allclose((x @ v.T).reshape(5, kv, d), v_ref, atol=1e-5)
    # Llama's repeat_kv: query head i reads kv head i // groups, as InternLM2's grouping
    assert [i // groups for i in range(kv * groups)] == [0, 0, 0, 1, 1, 1]


def test_merge_lora_folds_factors_with_loves_scale():
    a, b = torch.randn(2, 6), torch.randn(4, 2)
    w = torch.randn(4, 6)
    sd = {"language_model.base_model.model.model.layers.0.attention.wo.base_layer.weight": w,
          "language_model.base_model.model.model.layers.0.attention.wo.lora_A.default.weight": a,
          "language_model.base_model.model.model.layers.0.attention.wo.lora_B.default.weight": b}
    out = L.merge_lora(sd)
    assert list(out) == ["language_model.model.layers.0.attention.wo.weight"]
    assert torch.allclose(out["language_model.model.layers.0.attention.wo.weight"],
                          w + 2.0 * b @ a)


def test_tiny_checkpoint_has_loves_key_layout():
    tok = L.tiny_tokenizer()
    with torch.random.fork_rng():
        cfg, sd = L.tiny_state(0, len(tok.get_vocab()), llm_hidden=64)
    assert len(sd) + LOVE_BUFFERS == LOVE_MODEL_KEYS
    assert cfg["llm_config"]["architectures"] == ["InternLM2ForCausalLM"]
    assert any(k.startswith("evaluator.fragments_backbone.layers.2.blocks.5.") for k in sd)


@pytest.fixture(scope="module")
def small_love(tmp_path_factory):
    """A small-LLM LOVE folder (not loadable by LOVE's code, whose heads fix 4096)."""
    return L.build_tiny_love(tmp_path_factory.mktemp("love_small"), seed=1, llm_hidden=64)


@pytest.fixture(scope="module")
def small_loaded(small_love):
    return L.load_love(small_love)


def test_loader_converts_strictly(small_love, small_loaded):
    m = small_loaded
    sd = L.read_weights(small_love)
    w = sd["language_model.model.layers.0.attention.wqkv.weight"]
    q, k, v = L._split_wqkv(w, 2, 2, 16)
    attn = m.net.vlm.language_model.layers[0].self_attn
    assert torch.equal(attn.q_proj.weight, q) and torch.equal(attn.v_proj.weight, v)
    qkv = sd["vision_model.encoder.layers.0.attn.qkv.weight"]
    vit = m.net.vlm.vision_tower.encoder.layer[0].attention
    assert torch.equal(vit.k_proj.weight, qkv.chunk(3)[1])
    assert torch.equal(m.net.lm_head.weight, sd["language_model.output.weight"])
    assert m.context_id == m.tokenizer.convert_tokens_to_ids(L.IMG_CONTEXT)
    assert m.cfg.num_image_token == 4  # (56 / 14)^2 / 4


def test_loader_rejects_foreign_and_unsafe_files(small_love, tmp_path):
    import shutil

    with pytest.raises(MetricError, match="no config.json"):
        L.load_love(tmp_path)
    bad = tmp_path / "bad"
    shutil.copytree(small_love, bad)
    cfg = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**cfg, "model_type": "llava"}))
    with pytest.raises(MetricError, match="not LOVE's internvl_chat layout"):
        L.load_love(bad)
    (bad / "config.json").write_text(json.dumps(cfg))
    # an extra key in the checkpoint is refused, not ignored
    from safetensors.torch import load_file, save_file

    sd = load_file(str(bad / "model.safetensors"))
    sd["mlpscore.fc6.weight"] = torch.zeros(1)
    save_file(sd, str(bad / "model.safetensors"))
    with pytest.raises(MetricError, match="not a LOVE checkpoint: .*unexpected"):
        L.load_love(bad)
    # lora_weights.pth holding pickled objects is refused (weights_only)
    del sd["mlpscore.fc6.weight"]
    save_file(sd, str(bad / "model.safetensors"))
    torch.save({"x": _Pickled()}, str(bad / "lora_weights.pth"))
    with pytest.raises(MetricError, match="weights-only"):
        L.load_love(bad)


class _Pickled:
    pass


@pytest.mark.slow
def test_lora_keys_ignored_as_love_ignores_them(small_love, tmp_path):
    import shutil

    d = tmp_path / "lora"
    shutil.copytree(small_love, d)
    torch.save({"language_model.base_model.model.model.layers.0.attention.wo.lora_A.default"
                ".weight": torch.ones(2, 64),
                "mlpscore.fc5.bias": torch.tensor([7.0])}, str(d / "lora_weights.pth"))
    m = L.load_love(d)
    assert float(m.net.mlpscore.fc5.bias.detach()) == 7.0  # loaded over the checkpoint
    assert any("1 LoRA keys ignored" in n for n in m.notes)


def test_tokenizer_remote_code_message(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "InternLM2Tokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_internlm2.InternLM2Tokenizer", None]}}))
    with pytest.raises(MetricError, match="trust_remote_code=true"):
        L.load_tokenizer(tmp_path, trust_remote_code=False)


def test_metrics_and_baseline_row():
    from videojury.metrics import list_metrics, load_metric
    from videojury.metrics.baselines import SEED_BASELINES, baseline_status

    assert {"love_perception", "love_correspondence", "love_qa"} <= set(list_metrics())
    assert load_metric("love_correspondence").needs_prompt
    assert load_metric("love_qa").needs_question
    row = next(b for b in SEED_BASELINES if b.name == "LOVE (Ours)")
    assert baseline_status(row)[0] == "needs weights"
    with pytest.raises(MetricError, match="does not exist"):
        load_metric("love_perception:model=/nonexistent/love").folder()


@pytest.mark.slow
def test_parity_with_loves_code(tmp_path):
    """Same seeded weights, same clip: LOVE's forward vs videojury's (Swin-T on CPU: ~1 min)."""
    from videojury.video import FramePolicy, sample, write_video

    ck = L.build_tiny_love(tmp_path / "love", seed=0)
    clip = write_video(tmp_path / "a_96x72_24.mp4", _vqa_clips.clip(96, 72, 24, 3), fps=24)
    from videojury.metrics import load_metric

    m = load_metric(f"love_perception:model={ck},device=cpu,dtype=float32,seed=0")
    item = type("Item", (), {"prompt": None, "question": None})
    out = m.run(sample(str(clip), FramePolicy.all(stream=True)), item)
    assert abs(out["score"] - REF_SCORE) < 1e-4
    assert np.max(np.abs(out["logits"][:8].numpy() - np.array(REF_LOGITS))) < 1e-4
