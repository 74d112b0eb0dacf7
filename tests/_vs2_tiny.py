"""A tiny Qwen2.5-VL that writes VideoScore2's answer format (for the videoscore2 tests).

The shared tiny checkpoints use a word-level vocabulary that cannot spell
"text-to-video alignment: 4" back exactly, so VideoScore2's released parsing
could never match their answers. This one has a byte-level BPE tokenizer
(digits split one per token, as Qwen2's is) and is then trained for a few
hundred steps on one (video, prompt) -> answer pair, so that greedy decoding
really writes a parsable answer. Nothing in it is faked: the scores the
tests read are what this small trained model generates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ANSWER = ("visual quality: 3; \ntext-to-video alignment: 4, \n"
          "physical/common-sense consistency: 2")


def tiny_video(path: Path, frames: int = 16, h: int = 56, w: int = 84, fps: int = 8) -> Path:
    from videojury.video import write_video

    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (1, h, w, 3)).astype(np.float32)
    drift = np.linspace(0, 40, frames)[:, None, None, None]
    arr = np.clip(base + drift + rng.normal(0, 10, (frames, h, w, 3)), 0, 255).astype(np.uint8)
    write_video(path, arr, fps=fps)
    return path


def _tokenizer(corpus: list[str]):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[0-9]"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>",
                                   eos_token="<|im_end|>", unk_token=None)


def build_tiny_vs2(path: Path, video: Path, prompt: str, steps: int = 300, seed: int = 0) -> Path:
    """Build, train and save the tiny VideoScore2-format model at ``path``."""
    import torch
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                              Qwen2_5_VLProcessor, Qwen2VLImageProcessor)
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    from videojury.metrics.vlm.videoscore import VS2_TEMPLATE
    from videojury.models.tiny import _chat_template

    template = _chat_template({"video": "<|vision_start|><|video_pad|><|vision_end|>",
                               "image": "<|vision_start|><|image_pad|><|vision_end|>"},
                              "You are a helpful assistant.")
    user = VS2_TEMPLATE.replace("$t2v_prompt", prompt)
    tok = _tokenizer([user, ANSWER, "0 1 2 3 4 5 6 7 8 9", "You are a helpful assistant.",
                      "system user assistant"])
    tok.chat_template = template
    vocab = tok.get_vocab()
    torch.manual_seed(seed)
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=4096, initializer_range=0.05,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [4, 6, 6]},
                         bos_token_id=vocab["<|endoftext|>"], eos_token_id=vocab["<|im_end|>"],
                         pad_token_id=vocab["<|endoftext|>"]),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           out_hidden_size=64, window_size=56, fullatt_block_indexes=[0],
                           tokens_per_second=2, initializer_range=0.05),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"],
        vision_end_token_id=vocab["<|vision_end|>"])
    model = Qwen2_5_VLForConditionalGeneration(cfg)
    pixels = {"shortest_edge": 56 * 56, "longest_edge": 56 * 84}
    proc = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(size=pixels), tokenizer=tok,
                               video_processor=Qwen2VLVideoProcessor(size=pixels),
                               chat_template=template)
    gc = model.generation_config
    gc.pad_token_id = gc.bos_token_id = vocab["<|endoftext|>"]
    gc.eos_token_id = vocab["<|im_end|>"]

    # one training pair: the released prompt and frames -> ANSWER<|im_end|>
    from videojury.metrics.vlm.videoscore import released_inputs
    from videojury.video import FramePolicy
    from videojury.video.decode import sample

    frames = sample(video, FramePolicy.qwen_vl(2.0))
    text = proc.apply_chat_template([{"role": "user", "content": [
        {"type": "video"}, {"type": "text", "text": user}]}], tokenize=False,
        add_generation_prompt=True)
    full = text + ANSWER + "<|im_end|>"
    inputs = released_inputs(proc, frames, [full], 2.0)
    ids = inputs["input_ids"]
    prompt_len = released_inputs(proc, frames, [text], 2.0)["input_ids"].shape[1]
    labels = ids.clone()
    labels[:, :prompt_len] = -100
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small runs fastest on one thread
    try:
        for _ in range(steps):
            out = model(**inputs, labels=labels)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            if out.loss.item() < 0.02:  # the answer is memorised
                break
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(path, safe_serialization=True)
    proc.save_pretrained(path)
    return path
