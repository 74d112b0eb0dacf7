"""Video chat-model metrics on tiny random checkpoints of every family, offline.

VQAScore, the level judges, QA and the rationale judge run end to end
through ``videojury.score`` on Qwen2.5-VL, Qwen3-VL, InternVL and
LLaVA-OneVision checkpoints built by the fixtures and loaded the way a
downloaded checkpoint is. The weights are random, so the tests check what
must hold for any weights: ranges, determinism, batch invariance, that the
prompt reaches the model, that the reported numbers are the stated
functions of the model's logits, and that a checkpoint loads once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from ._vlm_models import LMM_FAMILIES, PROMPTS, tiny_models, tiny_videos  # noqa: E402,F401

import videojury  # noqa: E402
from videojury.data.items import Item  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.metrics.vlm.level_judge import level_score  # noqa: E402
from videojury.models import loading  # noqa: E402
from videojury.video import sample  # noqa: E402

pytestmark = pytest.mark.models


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # Everything here must work with the network forbidden.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _frames(metric, path):
    return sample(path, metric.frame_policy())


@pytest.mark.parametrize("family", LMM_FAMILIES)
def test_vqascore_ranges_determinism_batch_invariance(family, tiny_models, tiny_videos):
    path = tiny_models[family]
    runs = {}
    for label, bs in (("a", 4), ("b", 4), ("one", 1)):
        df = videojury.score(tiny_videos, prompts=PROMPTS,
                             metrics=[f"vqascore:model={path},batch_size={bs}"])
        assert df["error"].isna().all(), df["error"].tolist()
        runs[label] = df["vqascore"].to_numpy()
    v = runs["a"]
    assert v.shape == (4,) and np.all((v >= 0) & (v <= 1))
    assert np.array_equal(runs["a"], runs["b"])  # two runs: identical
    np.testing.assert_allclose(runs["a"], runs["one"], rtol=1e-5, atol=1e-7)  # batch 4 vs 1
    assert len(set(np.round(v, 12))) > 1  # the score depends on the input


def test_vqascore_is_p_yes_of_next_token(tiny_models, tiny_videos):
    """The reported value is exp(log-softmax[Yes]) of the token after the assistant prompt,
    and the renormalised value is P(Yes)/(P(Yes)+P(No)) from the same distribution."""
    path = tiny_models["qwen2_5_vl"]
    m = load_metric(f"vqascore:model={path}")
    r = load_metric(f"vqascore:model={path},renormalize=true")
    item = Item(video=tiny_videos[0], prompt=PROMPTS[0])
    fr = _frames(m, item.video)
    text = m.prompts([item])[0]
    assert text.endswith("assistant\n")
    lp = m.lmm().next_token_logprobs([fr], [text])[0]
    assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-4)  # a full softmax
    yes = m.lmm().tokenizer.convert_tokens_to_ids("Yes")
    no = m.lmm().tokenizer.convert_tokens_to_ids("No")
    assert m.score(fr, item)["vqascore"] == pytest.approx(float(np.exp(lp[yes])), rel=1e-6)
    p_yes, p_no = np.exp(lp[yes]), np.exp(lp[no])
    got = r.score(fr, item)["vqascore"]
    assert got == pytest.approx(p_yes / (p_yes + p_no), rel=1e-6)
    assert got >= m.score(fr, item)["vqascore"]


def test_prompt_and_template_reach_the_model(tiny_models, tiny_videos):
    """Hook the model's token embedding and read back the ids it was given."""
    path = tiny_models["qwen2_5_vl"]
    m = load_metric(f"vqascore:model={path}",
                    template='Is "{prompt}" what this clip shows? Answer yes or no.')
    model = m.backbone().model
    seen = []
    hook = model.get_input_embeddings().register_forward_hook(
        lambda mod, args, out: seen.append(args[0].clone()))
    try:
        item = Item(video=tiny_videos[1], prompt="a cat sitting on a chair")
        fr = _frames(m, item.video)
        s1 = m.score(fr, item)["vqascore"]
        s2 = m.score(fr, Item(video=tiny_videos[1], prompt="a red car on the road"))["vqascore"]
    finally:
        hook.remove()
    tok = m.lmm().tokenizer
    words = tok.convert_ids_to_tokens(seen[0][0].tolist())
    text = " ".join(words)
    assert "cat sitting on a chair" in text
    assert "what this clip shows" in text and "Answer yes or no" in text
    assert "<|video_pad|>" in words  # and the video is in there too
    assert "red car on the road" in " ".join(tok.convert_ids_to_tokens(seen[1][0].tolist()))
    assert s1 != s2


@pytest.mark.parametrize("family", ["internvl", "llava_onevision"])
def test_level_judge_matches_its_definition(family, tiny_models, tiny_videos):
    """judge_quality = (E[level]-1)/4*100 over softmax of the five level words' logits
    after the answer prefix; the level is the argmax."""
    path = tiny_models[family]
    m = load_metric(f"judge_quality:model={path}")
    item = Item(video=tiny_videos[2])
    fr = _frames(m, item.video)
    text = m.prompts([item])[0]
    assert text.endswith("The quality of the video is")
    lp = m.lmm().next_token_logprobs([fr], [text])[0]
    tok = m.lmm().tokenizer
    ids = tok.convert_tokens_to_ids(["excellent", "good", "fair", "poor", "bad"])
    assert m.level_ids(text) == ids
    want, level, _ = level_score(lp[ids])
    got = m.score(fr, item)
    assert got["judge_quality"] == pytest.approx(want, rel=1e-6)
    assert got["judge_quality_level"] == level


def test_level_judges_end_to_end(tiny_models, tiny_videos):
    path = tiny_models["qwen2_5_vl"]
    specs = [f"judge_{d}:model={path},batch_size=4" for d in (
        "quality", "correspondence", "static_quality", "temporal_smoothness", "dynamic_degree",
        "visual_quality", "text_alignment", "physical_consistency")]
    df = videojury.score(tiny_videos, prompts=PROMPTS, metrics=specs)
    assert df["error"].isna().all(), df["error"].tolist()
    for s in specs:
        name = s.split(":")[0]
        assert df[name].between(0, 100).all()
        assert df[f"{name}_level"].isin([1, 2, 3, 4, 5]).all()
    one = videojury.score(tiny_videos, prompts=PROMPTS,
                          metrics=[s.replace("batch_size=4", "batch_size=1") for s in specs[:2]])
    np.testing.assert_allclose(one["judge_quality"], df["judge_quality"], rtol=1e-5)
    np.testing.assert_allclose(one["judge_correspondence"], df["judge_correspondence"],
                               rtol=1e-5)
    # The aspects ask different questions, so they do not all give the same numbers.
    assert df[[s.split(":")[0] for s in specs]].T.drop_duplicates().shape[0] > 1


def test_qa_fields(tiny_models, tiny_videos, tmp_path):
    path = tiny_models["qwen3_vl"]
    manifest = pd.DataFrame({"video": tiny_videos,
                             "question": ["Is there a red car?", "Is the dog blue?",
                                          "Is a cat sitting?", "Is it night?"],
                             "answer": ["yes", "no", "yes", "no"]})
    df = videojury.score(manifest, metrics=[f"qa:model={path}"])
    assert df["error"].isna().all(), df["error"].tolist()
    assert df["qa_p_yes"].between(0, 1).all() and df["qa_p_yes_norm"].between(0, 1).all()
    assert df["qa_yes"].isin([0.0, 1.0]).all()
    assert ((df["qa_p_yes_norm"] >= 0.5) == (df["qa_yes"] == 1.0)).all()
    assert (df["qa_p_yes_norm"] >= df["qa_p_yes"] - 1e-12).all()
    assert list(df["answer"]) == ["yes", "no", "yes", "no"]  # travels through for accuracy
    # In generate mode a random model's free text is rarely a yes/no: such an answer is
    # an error naming what it said, never a silent "no".
    log = tmp_path / "answers.jsonl"
    gen = videojury.score(manifest, metrics=[f"qa:model={path},mode=generate,max_new_tokens=4,"
                                             f"answer_log={log}"])
    for err, yes in zip(gen["error"], gen["qa_yes"]):
        if isinstance(err, str):
            assert "neither yes nor no" in err and np.isnan(yes)
        else:
            assert yes in (0.0, 1.0)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 4  # each answer generated and logged once
    assert all(isinstance(r["text"], str) for r in lines)


def test_rationale_unparseable_is_recorded_not_zero(tiny_models, tiny_videos, tmp_path):
    path = tiny_models["llava_onevision"]
    log = tmp_path / "rationales.jsonl"
    df = videojury.score(tiny_videos[:2], prompts=PROMPTS[:2],
                         metrics=[f"rationale_judge:model={path},max_new_tokens=12,"
                                  f"batch_size=2,rationale_log={log}"])
    for _, row in df.iterrows():
        # A random model does not write "visual quality: N ..."; the item is an error
        # that quotes its answer, and no score is invented.
        assert "could not read a 1-5 score" in row["error"]
        assert np.isnan(row["rationale_visual_quality"])
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 2  # answered once, though the batch was retried item by item
    assert all(r["text"] and "error" in r for r in lines)
    assert {r["prompt"] for r in lines} == set(PROMPTS[:2])


def test_two_metrics_on_one_backbone_load_it_once(tiny_models, tiny_videos):
    path = tiny_models["internvl"]
    loading.clear_cache()
    df = videojury.score(tiny_videos[:2], prompts=PROMPTS[:2],
                         metrics=[f"vqascore:model={path}", f"judge_quality:model={path}",
                                  f"judge_correspondence:model={path}"])
    assert df["error"].isna().all()
    assert loading.load_count(path) == 1
    assert len(loading.loaded_backbones()) == 1
    # A different dtype is a different copy.
    m = load_metric(f"vqascore:model={path},dtype=bfloat16")
    item = Item(video=tiny_videos[0], prompt=PROMPTS[0])
    v = m.score(_frames(m, item.video), item)["vqascore"]
    assert 0.0 <= v <= 1.0
    assert loading.load_count(path) == 2
    assert str(m.backbone().model.dtype) == "torch.bfloat16"


def test_device_and_dtype_defaults(tiny_models):
    import torch

    m = load_metric(f"vqascore:model={tiny_models['qwen2_5_vl']}")
    b = m.backbone()
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert b.device == want
    assert b.model.dtype == (torch.bfloat16 if want == "cuda" else torch.float32)
    assert not b.model.training
    assert b.tokenizer.padding_side == "left"


def test_no_remote_code_unless_asked():
    root = Path(videojury.__file__).parent
    for f in root.rglob("*.py"):
        assert "trust_remote_code=True" not in f.read_text(), f
    assert load_metric("vqascore").options["trust_remote_code"] is False
