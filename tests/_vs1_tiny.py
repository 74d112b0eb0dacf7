"""A tiny checkpoint in VideoScore's layout (Mantis' Idefics2ForSequenceClassification).

``model.*`` holds an Idefics2Model (SigLIP-style vision tower, perceiver
connector, Mistral text model), ``score.*`` the linear head to five
outputs; seeded random weights, a word-level tokenizer with Idefics2's
image tokens, and an Idefics2 processor that does not split images.
"""

from __future__ import annotations

import json
from pathlib import Path


def tiny_vs1_config_and_processor():
    from transformers import Idefics2Config, Idefics2ImageProcessor, Idefics2Processor

    from videojury.models.tiny import _make_tokenizer

    specials = ["<unk>", "<s>", "</s>", "<fake_token_around_image>", "<image>",
                "<end_of_utterance>"]
    tok = _make_tokenizer(specials, pad="<unk>", eos="</s>", bos="<s>")
    vocab = tok.get_vocab()
    cfg = Idefics2Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, image_size=56, patch_size=14),
        perceiver_config=dict(hidden_act="silu", resampler_n_latents=4, resampler_depth=1,
                              resampler_n_heads=2, resampler_head_dim=8, num_key_value_heads=1,
                              hidden_size=32),
        text_config=dict(model_type="mistral", vocab_size=len(vocab), hidden_size=32,
                         intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=1, pad_token_id=0),
        image_token_id=vocab["<image>"], num_labels=5, tie_word_embeddings=False)
    cfg.pad_token_id = 0
    improc = Idefics2ImageProcessor(size={"shortest_edge": 28, "longest_edge": 56},
                                    do_image_splitting=False)
    proc = Idefics2Processor(image_processor=improc, tokenizer=tok, image_seq_len=4)
    return cfg, proc


def build_tiny_vs1(path: Path, seed: int = 0, pad: str = "<end_of_utterance>") -> Path:
    """Seeded random weights saved in VideoScore's key layout (no Mantis code needed).

    ``pad``: the token whose id goes to ``config.json``'s top-level ``pad_token_id``
    (the head reads the position before its first occurrence). Idefics2's own
    pad is ``<unk>`` (id 0), which this word-level vocabulary writes for every
    unknown word, so the default is a token the prompt never holds.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import Idefics2Model

    cfg, proc = tiny_vs1_config_and_processor()
    torch.manual_seed(seed)
    body = Idefics2Model(cfg)
    head = torch.nn.Linear(32, 5)
    for prm in list(body.parameters()) + list(head.parameters()):  # visible, seeded weights
        torch.nn.init.normal_(prm, std=0.2)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {"model." + k: v.contiguous() for k, v in body.state_dict().items()}
    state["score.weight"], state["score.bias"] = head.weight.data, head.bias.data
    save_file(state, str(path / "model.safetensors"))
    conf = cfg.to_dict()
    conf["architectures"] = ["Idefics2ForSequenceClassification"]
    conf["pad_token_id"] = proc.tokenizer.convert_tokens_to_ids(pad)
    (path / "config.json").write_text(json.dumps(conf), encoding="utf-8")
    proc.save_pretrained(path)
    return path
