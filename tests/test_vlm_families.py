"""The seed table's remaining open LMM families as judges and QA answerers (issue 17, item 3).

Qwen2-VL, LLaVA-NeXT-Video, Video-LLaVA and VideoLLaMA3 read the video through
their processors' video path; LLaVA-NeXT (the image model) and Llama 3.2 Vision
(Mllama) take images only and get the sampled frames as that many images. Each runs on a tiny random
checkpoint built offline (``videojury.models.tiny``) and loaded the way a
downloaded one is. The checks are those of ``test_vlm_lmm.py``: ranges,
determinism, batch invariance, the reported number is the stated function of
the logits, the prompt and the frames reach the model, one load per backbone.
The families transformers lacks (DeepSeek-VL2, InternVideo2.5, mPLUG-Owl3,
CogAgent) are refused without ``trust_remote_code=true`` with one message.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from ._vlm_models import (EXTRA_LMM_FAMILIES, PROMPTS, family_models,  # noqa: E402,F401
                          tiny_videos)

import videojury  # noqa: E402
from videojury.data.items import Item  # noqa: E402
from videojury.errors import MetricError  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.metrics.vlm.level_judge import level_score  # noqa: E402
from videojury.models import loading  # noqa: E402
from videojury.video import sample  # noqa: E402

pytestmark = pytest.mark.models
FAMILIES = list(EXTRA_LMM_FAMILIES)
# Four small frames keep the file fast (the options reach every family's frame path).
FR = "frames=4,max_pixels=3072"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _frames(metric, path):
    return sample(path, metric.frame_policy())


@pytest.mark.parametrize("family", FAMILIES)
def test_vqascore_ranges_determinism_batch_invariance(family, family_models, tiny_videos):
    path = family_models[family]
    runs = {}
    for label, bs in (("a", 4), ("b", 4), ("one", 1)):
        df = videojury.score(tiny_videos, prompts=PROMPTS,
                             metrics=[f"vqascore:model={path},{FR},batch_size={bs}"])
        assert df["error"].isna().all(), df["error"].tolist()
        runs[label] = df["vqascore"].to_numpy()
    v = runs["a"]
    assert v.shape == (4,) and np.all((v > 0) & (v < 1))
    assert np.array_equal(runs["a"], runs["b"])  # two runs: identical
    np.testing.assert_allclose(runs["a"], runs["one"], rtol=1e-5, atol=1e-7)  # batch 4 vs 1
    assert len(set(np.round(v, 12))) > 1


@pytest.mark.parametrize("family", FAMILIES)
def test_level_judge_and_vqascore_are_their_definitions(family, family_models, tiny_videos):
    """judge_quality from the five level words' log-probabilities after the answer prefix,
    VQAScore = P(Yes) of the next token, both from one full softmax."""
    path = family_models[family]
    m = load_metric(f"judge_quality:model={path},{FR}")
    item = Item(video=tiny_videos[2], prompt=PROMPTS[2])
    fr = _frames(m, item.video)
    text = m.prompts([item])[0]
    assert text.endswith("The quality of the video is")
    lp = m.lmm().next_token_logprobs([fr], [text])[0]
    assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-4)
    tok = m.lmm().tokenizer
    ids = tok.convert_tokens_to_ids(["excellent", "good", "fair", "poor", "bad"])
    assert m.level_ids(text) == ids
    want, level, _ = level_score(lp[ids])
    got = m.score(fr, item)
    assert got["judge_quality"] == pytest.approx(want, rel=1e-6)
    assert got["judge_quality_level"] == level

    v = load_metric(f"vqascore:model={path},{FR}")
    vtext = v.prompts([item])[0]
    vlp = v.lmm().next_token_logprobs([fr], [vtext])[0]
    yes = tok.convert_tokens_to_ids("Yes")
    assert v.score(fr, item)["vqascore"] == pytest.approx(float(np.exp(vlp[yes])), rel=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_and_frames_reach_the_model(family, family_models, tiny_videos):
    """The question's words and the family's visual token are in the ids the model embeds;
    other frames with the same question give another score."""
    path = family_models[family]
    m = load_metric(f"vqascore:model={path},{FR}")
    model = m.backbone().model
    seen = []
    hook = model.get_input_embeddings().register_forward_hook(
        lambda mod, args, out: seen.append(args[0].clone()))
    try:
        item = Item(video=tiny_videos[1], prompt="a cat sitting on a chair")
        s1 = m.score(_frames(m, item.video), item)["vqascore"]
        other = Item(video=tiny_videos[3], prompt="a cat sitting on a chair")
        s2 = m.score(_frames(m, other.video), other)["vqascore"]
    finally:
        hook.remove()
    words = m.lmm().tokenizer.convert_ids_to_tokens(seen[0][0].tolist())
    assert "cat sitting on a chair" in " ".join(words)
    token = EXTRA_LMM_FAMILIES[family]
    assert token in words
    if family == "mllama":  # frames as images: one image token per sampled frame
        assert words.count(token) == len(_frames(m, item.video))
    assert s1 != s2


@pytest.mark.parametrize("family", FAMILIES)
def test_qa_answers(family, family_models, tiny_videos, tmp_path):
    path = family_models[family]
    manifest = pd.DataFrame({"video": tiny_videos[:2],
                             "question": ["Is there a red car?", "Is the dog blue?"],
                             "answer": ["yes", "no"]})
    df = videojury.score(manifest, metrics=[f"qa:model={path},{FR},batch_size=2"])
    assert df["error"].isna().all(), df["error"].tolist()
    assert df["qa_p_yes"].between(0, 1).all() and df["qa_p_yes_norm"].between(0, 1).all()
    assert ((df["qa_p_yes_norm"] >= 0.5) == (df["qa_yes"] == 1.0)).all()
    # Greedy generation runs too; a random model's text is an error that quotes it.
    log = tmp_path / "answers.jsonl"
    gen = videojury.score(manifest, metrics=[f"qa:model={path},{FR},mode=generate,"
                                             f"max_new_tokens=3,answer_log={log}"])
    for err, yes in zip(gen["error"], gen["qa_yes"]):
        if isinstance(err, str):
            assert "neither yes nor no" in err and np.isnan(yes)
        else:
            assert yes in (0.0, 1.0)
    assert len(log.read_text().splitlines()) == 2


def test_metrics_on_one_backbone_load_it_once(family_models, tiny_videos):
    path = family_models["video_llava"]
    loading.clear_cache()
    df = videojury.score(tiny_videos[:2], prompts=PROMPTS[:2],
                         metrics=[f"vqascore:model={path},{FR}", f"judge_quality:model={path},{FR}",
                                  f"judge_correspondence:model={path},{FR}"])
    assert df["error"].isna().all(), df["error"].tolist()
    assert loading.load_count(path) == 1
    assert len(loading.loaded_backbones()) == 1


def test_frames_as_images_have_no_reward_path(family_models, tiny_videos):
    m = load_metric(f"vqascore:model={family_models['mllama']},{FR}")
    item = Item(video=tiny_videos[0], prompt=PROMPTS[0])
    fr = _frames(m, item.video)
    with pytest.raises(MetricError, match="reads frames as images"):
        m.lmm().next_token_logprobs_grad([None], [fr], m.prompts([item]))


@pytest.mark.parametrize("model_type", ["deepseek_vl_v2", "internvl_chat", "mplugowl3",
                                        "cogagent"])
def test_remote_code_families_need_the_flag(model_type, tmp_path, tiny_videos):
    """A checkpoint of an architecture transformers lacks stops with one message naming
    the option, before anything is loaded or executed."""
    folder = tmp_path / model_type
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": model_type, "architectures": ["X"],
        "auto_map": {"AutoConfig": "configuration_x.XConfig",
                     "AutoModelForCausalLM": "modeling_x.XForCausalLM"}}))
    (folder / "modeling_x.py").write_text("raise SystemExit('repository code ran')\n")
    m = load_metric(f"vqascore:model={folder}")
    with pytest.raises(MetricError) as err:
        m.backbone()
    msg = str(err.value)
    assert "trust_remote_code=true" in msg and "does not have" in msg
    assert loading.load_count(folder) == 0
    df = videojury.score(tiny_videos[:1], prompts=PROMPTS[:1],
                         metrics=[f"judge_quality:model={folder}"])
    assert "trust_remote_code=true" in df["error"].iloc[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_folder_family_and_frame_convention(family, family_models):
    """A folder's family comes from its config; the family sets the default frames."""
    from videojury.models.checkpoints import CHECKPOINTS, FAMILY_KIND, resolve_checkpoint

    ck = resolve_checkpoint(str(family_models[family]))
    assert ck.family == family and FAMILY_KIND[family] == "lmm"
    named = [c for c in CHECKPOINTS.values() if c.family == family]
    if named:  # the short names of the family use the same convention as its folders
        assert {c.frames for c in named} == {ck.frames}
    pol = ck.frames.policy()
    want = {"qwen2_vl": ("fps", 2.0), "video_llama_3": ("fps", 1.0)}.get(family)
    if want:
        assert (pol.mode, pol.rate) == want
    else:
        assert (pol.mode, pol.n) == ("uniform", 8)


def test_seed_table_rows_of_these_families():
    """LOVE's list names the native families by short name (their metrics exist) and the
    remote-code ones as not run, saying which option would let their code run."""
    from videojury.metrics.baselines import SEED_BASELINES, baseline_status
    from videojury.models.checkpoints import CHECKPOINTS

    rows = {b.name: b for b in SEED_BASELINES}
    native = {"Qwen2-VL (7B)": "qwen2_vl", "Qwen2-VL (72B)": "qwen2_vl",
              "LLaVA-NeXT (8B)": "llava_next", "VideoLlava (7B)": "video_llava",
              "Llama3.2-Vision (11B)": "mllama"}
    for name, family in native.items():
        b = rows[name]
        assert baseline_status(b)[0] == "needs weights", name
        model = b.perception.split("model=", 1)[1]
        assert CHECKPOINTS[model].family == family
        assert b.qa == f"qa:model={model}" and b.correspondence.startswith("judge_corr")
    for name in ("DeepseekVL2 (1B)", "InternVideo2.5 (8B)", "mPLUG-Owl3 (7B)", "CogAgent (18B)"):
        status, why = baseline_status(rows[name])
        assert status == "later" and "trust_remote_code=true" in why, name
    assert "model=PATH" in baseline_status(rows["VideoLlama3 (8B)"])[1]


def test_cli_trust_remote_code_flag(tmp_path, tiny_videos, capsys):
    """``videojury score --trust-remote-code`` sets the option on the model metrics only;
    without it a remote-code checkpoint is one message naming the flag."""
    from videojury.cli import main
    from videojury.cli.score import with_remote_code

    assert with_remote_code("vqascore:model=x") == "vqascore:model=x,trust_remote_code=true"
    assert with_remote_code("qa") == "qa:trust_remote_code=true"
    assert with_remote_code("niqe") == "niqe"  # no such option: unchanged
    assert with_remote_code("qa:trust_remote_code=false") == "qa:trust_remote_code=false"
    folder = tmp_path / "dsvl2"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "deepseek_vl_v2"}))
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"video": tiny_videos[:1], "prompt": PROMPTS[:1]}).to_csv(manifest, index=False)
    main(["score", str(manifest), "-m", f"vqascore:model={folder}", "--no-store", "--quiet"])
    err = capsys.readouterr()
    text = err.out + err.err
    assert "--trust-remote-code" in text and "DeepSeek-VL2" in text
    assert "Traceback" not in text
