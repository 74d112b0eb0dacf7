"""Tiny random checkpoints of every supported model family, built offline.

The tests, the benchmark's CPU mode and the documentation examples need a
checkpoint that loads through exactly the code path a real one takes
(``AutoProcessor.from_pretrained``, ``AutoModelForImageTextToText`` /
``CLIPModel`` / ...), but nothing may be downloaded. :func:`build_tiny`
writes such a checkpoint to a folder: a config a few layers deep, random
weights (seeded, so two builds are identical), a word-level tokenizer made
with the ``tokenizers`` library whose vocabulary holds the answer words
("Yes", "No", the five level words, the digits) as single tokens, the
family's special tokens, a chat template in the family's format, and the
image/video processors the family's processor expects.

The weights are random, so the scores such a model gives mean nothing; they
are still real forward passes, which is what tests of shapes, ranges,
determinism and batch invariance need.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FAMILIES = ("qwen2_5_vl", "qwen3_vl", "internvl", "llava_onevision", "clip", "siglip",
            "blip_itm")
# The seed table's remaining open LMMs (issue 17), built on demand (not by every test
# session's fixture, which builds FAMILIES).
EXTRA_FAMILIES = ("qwen2_vl", "llava_next_video", "llava_next", "video_llava", "video_llama_3",
                  "mllama")

# Words the tiny vocabulary knows. Everything the metric templates say, the
# answer words, and enough ordinary words for test prompts; anything else
# becomes the unknown token (still a valid input).
_WORDS = """
yes no Yes No YES NO excellent good fair poor bad Excellent Good Fair Poor Bad
0 1 2 3 4 5 6 7 8 9 10 . , : ; ! ? " ' ( ) - / * # = _ [ ] < > |
a an the this that these those is are was be been of in on at to for with and or not
does do did show shows showing video videos frame frames image picture clip scene
please answer question only one word single yes/no rate rating score scores how what
which who where when quality visual static temporal dynamic degree smoothness motion
text alignment aligned prompt description described consistency physical common sense
physics correspondence corresponds match matches well overall level levels it its you
your as by from into than then there here very much more most less least some any all
between following given generated ai watch look carefully judge evaluate evaluation
each axis integer out rationale system user assistant helpful
 reason because first briefly explain explanation
give format line lines per dimension aspect aspects think thinking final
red blue green yellow black white orange purple car cat dog bird man woman person
people child tree house road sky sea water city street running walking flying
sitting jumping playing riding driving dancing swimming eating reading big small
tall old young happy sad fast slow day night sunset snow rain forest beach mountain
ball table chair book phone guitar horse boat train plane bicycle flower garden
"""

def _vocab(specials: list[str]) -> dict[str, int]:
    words: list[str] = []
    seen: set[str] = set()
    base = _WORDS.split()
    # Sentence-initial capitals ("Does", "Please") are distinct words to a
    # case-sensitive word-level vocabulary.
    for w in specials + ["<unk>"] + base + [w.capitalize() for w in base] + ["\n"]:
        if w not in seen:
            seen.add(w)
            words.append(w)
    return {w: i for i, w in enumerate(words)}


def _make_tokenizer(specials: list[str], *, pad: str, eos: str, bos: str | None = None,
                    named: dict[str, str] | None = None, lowercase: bool = False,
                    chat_template: str | None = None, post_cls: tuple[str, str] | None = None,
                    input_names: list[str] | None = None):
    """A transformers fast tokenizer over a word-level ``tokenizers`` model."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = _vocab(specials)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    # Words, numbers one digit at a time, each punctuation mark alone, and
    # newlines kept as a token (chat formats use them as separators).
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[ \t]+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"yes/no"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[0-9]|[^\w\s]"), behavior="isolated"),
    ])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins words with spaces
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if post_cls is not None:
        cls, sep = post_cls
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}", special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])])
    kwargs: dict[str, Any] = {"unk_token": "<unk>", "pad_token": pad, "eos_token": eos}
    if bos is not None:
        kwargs["bos_token"] = bos
    if named:
        kwargs["extra_special_tokens"] = named
    if chat_template is not None:
        kwargs["chat_template"] = chat_template
    if input_names is not None:
        kwargs["model_input_names"] = input_names
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


# --- chat templates (our own, in each family's layout) ----------------------

def _chat_template(visual: dict[str, str], sys_default: str | None,
                   assistant: str = "assistant") -> str:
    """A Jinja chat template in the ChatML layout the Qwen-based families use.

    ``visual`` maps a content type ("video", "image") to the text that stands
    for it in the prompt (the processor expands that placeholder). Newlines
    are written as expressions so Jinja's whitespace control cannot eat them.
    """
    nl = "{{ '\\n' }}"
    parts = ["{%- set ns = namespace(sys=false) -%}",
             "{%- for m in messages -%}{%- if m['role'] == 'system' -%}"
             "{%- set ns.sys = true -%}{%- endif -%}{%- endfor -%}"]
    if sys_default:
        parts.append("{%- if not ns.sys -%}<|im_start|>system" + nl + sys_default
                     + "<|im_end|>" + nl + "{%- endif -%}")
    parts.append("{%- for m in messages -%}<|im_start|>{{ m['role'] }}" + nl
                 + "{%- if m['content'] is string -%}{{ m['content'] }}"
                 "{%- else -%}{%- for c in m['content'] -%}")
    for i, (kind, text) in enumerate(visual.items()):
        parts.append(("{%- if" if i == 0 else "{%- elif") + f" c['type'] == '{kind}' -%}}{text}")
    parts.append("{%- elif c['type'] == 'text' -%}{{ c['text'] }}{%- endif -%}"
                 "{%- endfor -%}{%- endif -%}<|im_end|>" + nl + "{%- endfor -%}"
                 "{%- if add_generation_prompt -%}<|im_start|>" + assistant + nl
                 + "{%- endif -%}")
    return "".join(parts)


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _save(model, processor, path: Path) -> Path:
    model.eval()
    model.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)
    return path


# --- families ---------------------------------------------------------------

def _qwen_specials() -> list[str]:
    return ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def _qwen_tokenizer(system: str | None):
    """The Qwen-VL-style tokenizer (vision start/end and pad tokens, ChatML template with
    ``system`` as the default system message) shared by the Qwen-family tiny models."""
    template = _chat_template({"video": "<|vision_start|><|video_pad|><|vision_end|>",
                               "image": "<|vision_start|><|image_pad|><|vision_end|>"}, system)
    return _make_tokenizer(_qwen_specials(), pad="<|endoftext|>", eos="<|im_end|>",
                           chat_template=template)


def _build_qwen2_5_vl(path: Path, seed: int) -> Path:
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                              Qwen2_5_VLProcessor, Qwen2VLImageProcessor)
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tok = _qwen_tokenizer("You are a helpful assistant.")
    vocab = tok.get_vocab()
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=2048, initializer_range=0.3,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [2, 3, 3]},
                         bos_token_id=vocab["<|endoftext|>"], eos_token_id=vocab["<|im_end|>"],
                         pad_token_id=vocab["<|endoftext|>"]),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           out_hidden_size=32, window_size=56, fullatt_block_indexes=[1],
                           tokens_per_second=2, initializer_range=0.3),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"],
        vision_end_token_id=vocab["<|vision_end|>"],
    )
    _seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(cfg)
    pixels = {"shortest_edge": 56 * 56, "longest_edge": 56 * 56}
    proc = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(size=pixels),
                               tokenizer=tok,
                               video_processor=Qwen2VLVideoProcessor(size=pixels, cap_pixels_per_frame=True),
                               chat_template=tok.chat_template)
    _gen_ids(model, vocab["<|endoftext|>"], vocab["<|im_end|>"])
    return _save(model, proc, path)


def _qwen2_text(vocab: dict[str, int], **extra: Any) -> dict[str, Any]:
    return dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                initializer_range=0.3, bos_token_id=vocab["<|endoftext|>"],
                eos_token_id=vocab["<|im_end|>"], pad_token_id=vocab["<|endoftext|>"], **extra)


def _build_qwen3_vl(path: Path, seed: int) -> Path:
    from transformers import (Qwen2VLImageProcessor, Qwen3VLConfig,
                              Qwen3VLForConditionalGeneration, Qwen3VLProcessor)
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    tok = _qwen_tokenizer(None)
    vocab = tok.get_vocab()
    cfg = Qwen3VLConfig(
        text_config=_qwen2_text(vocab, head_dim=16, rope_parameters={
            "rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3],
            "mrope_interleaved": True}),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                           out_hidden_size=32, num_position_embeddings=16,
                           deepstack_visual_indexes=[0], initializer_range=0.3),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"],
        vision_end_token_id=vocab["<|vision_end|>"],
    )
    _seed(seed)
    model = Qwen3VLForConditionalGeneration(cfg)
    pixels = {"shortest_edge": 64 * 64, "longest_edge": 64 * 64}
    proc = Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(size=pixels, patch_size=16),
                            tokenizer=tok,
                            video_processor=Qwen3VLVideoProcessor(size=pixels,
                                                                  cap_pixels_per_frame=True),
                            chat_template=tok.chat_template)
    _gen_ids(model, vocab["<|endoftext|>"], vocab["<|im_end|>"])
    return _save(model, proc, path)


def _gen_ids(model, pad: int, eos: int) -> None:
    model.generation_config.pad_token_id = pad
    model.generation_config.eos_token_id = eos
    model.generation_config.do_sample = False


def _build_internvl(path: Path, seed: int) -> Path:
    from transformers import (GotOcr2ImageProcessor, InternVLConfig,
                              InternVLForConditionalGeneration, InternVLProcessor)
    from transformers.models.internvl.video_processing_internvl import InternVLVideoProcessor

    named = {"start_image_token": "<img>", "end_image_token": "</img>",
             "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"}
    specials = _qwen_specials()[:3] + list(named.values())
    template = _chat_template({"video": "<video>\n", "image": "<image>\n"},
                              "You are a helpful assistant.")
    tok = _make_tokenizer(specials, pad="<|endoftext|>", eos="<|im_end|>", named=named,
                          chat_template=template)
    vocab = tok.get_vocab()
    cfg = InternVLConfig(
        vision_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, image_size=[28, 28], patch_size=[14, 14],
                           initializer_range=0.3),
        text_config=dict(model_type="qwen2", **_qwen2_text(vocab)),
        image_token_id=vocab["<IMG_CONTEXT>"], image_seq_length=1, downsample_ratio=0.5,
    )
    _seed(seed)
    model = InternVLForConditionalGeneration(cfg)
    size = {"height": 28, "width": 28}
    proc = InternVLProcessor(image_processor=GotOcr2ImageProcessor(size=size,
                                                                   crop_to_patches=False),
                             tokenizer=tok, video_processor=InternVLVideoProcessor(size=size),
                             image_seq_length=1, chat_template=template)
    _gen_ids(model, vocab["<|endoftext|>"], vocab["<|im_end|>"])
    return _save(model, proc, path)


def _build_llava_onevision(path: Path, seed: int) -> Path:
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration,
                              LlavaOnevisionImageProcessor, LlavaOnevisionProcessor,
                              LlavaOnevisionVideoProcessor)

    specials = _qwen_specials()[:3] + ["<image>", "<video>"]
    template = _chat_template({"video": "<video>\n", "image": "<image>\n"},
                              "You are a helpful assistant.")
    tok = _make_tokenizer(specials, pad="<|endoftext|>", eos="<|im_end|>",
                          chat_template=template)
    vocab = tok.get_vocab()
    cfg = LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32,
                           intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=28, patch_size=14),
        text_config=dict(model_type="qwen2", **_qwen2_text(vocab)),
        image_token_index=vocab["<image>"], video_token_index=vocab["<video>"],
        vision_feature_layer=-1, image_grid_pinpoints=[[28, 28]],
    )
    _seed(seed)
    model = LlavaOnevisionForConditionalGeneration(cfg)
    size = {"height": 28, "width": 28}
    proc = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=[[28, 28]]),
        tokenizer=tok, video_processor=LlavaOnevisionVideoProcessor(size=size),
        num_image_tokens=4, vision_feature_select_strategy="full", chat_template=template)
    _gen_ids(model, vocab["<|endoftext|>"], vocab["<|im_end|>"])
    return _save(model, proc, path)


def _build_clip(path: Path, seed: int) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    specials = ["<|startoftext|>", "<|endoftext|>"]
    tok = _make_tokenizer(specials, pad="<|endoftext|>", eos="<|endoftext|>",
                          bos="<|startoftext|>", lowercase=True,
                          post_cls=("<|startoftext|>", "<|endoftext|>"))
    vocab = tok.get_vocab()
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                         bos_token_id=vocab["<|startoftext|>"],
                         eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"]),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=16,
    )
    _seed(seed)
    model = CLIPModel(cfg)
    proc = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                            crop_size={"height": 32,
                                                                       "width": 32}),
                         tokenizer=tok)
    return _save(model, proc, path)


def _build_siglip(path: Path, seed: int) -> Path:
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    specials = ["</s>"]
    # Like SigLIP's own tokenizer: no attention mask (the text tower reads the
    # last position of a sequence padded to full length).
    tok = _make_tokenizer(specials, pad="</s>", eos="</s>", lowercase=True,
                          input_names=["input_ids"])
    tok.model_max_length = 16
    vocab = tok.get_vocab()
    cfg = SiglipConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=16,
                         pad_token_id=vocab["</s>"], eos_token_id=vocab["</s>"],
                         bos_token_id=vocab["</s>"]),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=32, patch_size=8),
    )
    _seed(seed)
    model = SiglipModel(cfg)
    proc = SiglipProcessor(image_processor=SiglipImageProcessor(size={"height": 32, "width": 32}),
                           tokenizer=tok)
    return _save(model, proc, path)


def _build_blip_itm(path: Path, seed: int) -> Path:
    from transformers import (BlipConfig, BlipForImageTextRetrieval, BlipImageProcessor,
                              BlipProcessor)

    specials = ["[PAD]", "[CLS]", "[SEP]", "[DEC]", "[ENC]"]
    tok = _make_tokenizer(specials, pad="[PAD]", eos="[SEP]", bos="[DEC]", lowercase=True,
                          post_cls=("[CLS]", "[SEP]"))
    tok.cls_token = "[CLS]"
    tok.sep_token = "[SEP]"
    vocab = tok.get_vocab()
    cfg = BlipConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, encoder_hidden_size=32,
                         intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=64, bos_token_id=vocab["[DEC]"],
                         pad_token_id=vocab["[PAD]"], sep_token_id=vocab["[SEP]"],
                         eos_token_id=vocab["[SEP]"], initializer_range=0.3),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=32, patch_size=8,
                           initializer_range=0.3),
        projection_dim=16, image_text_hidden_size=16,
    )
    _seed(seed)
    model = BlipForImageTextRetrieval(cfg)
    proc = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                         tokenizer=tok)
    return _save(model, proc, path)


# --- families of issue 17 (the seed table's remaining open LMMs) ---------------

def _build_qwen2_vl(path: Path, seed: int) -> Path:
    from transformers import (Qwen2VLConfig, Qwen2VLForConditionalGeneration,
                              Qwen2VLImageProcessor, Qwen2VLProcessor)
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tok = _qwen_tokenizer("You are a helpful assistant.")
    vocab = tok.get_vocab()
    cfg = Qwen2VLConfig(
        text_config=_qwen2_text(vocab, rope_parameters={
            "rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}),
        vision_config=dict(depth=2, embed_dim=32, hidden_size=32, mlp_ratio=2, num_heads=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           initializer_range=0.3),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"],
        vision_end_token_id=vocab["<|vision_end|>"],
    )
    _seed(seed)
    model = Qwen2VLForConditionalGeneration(cfg)
    pixels = {"shortest_edge": 56 * 56, "longest_edge": 56 * 56}
    proc = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(size=pixels), tokenizer=tok,
                            video_processor=Qwen2VLVideoProcessor(size=pixels,
                                                                  cap_pixels_per_frame=True),
                            chat_template=tok.chat_template)
    _gen_ids(model, vocab["<|endoftext|>"], vocab["<|im_end|>"])
    return _save(model, proc, path)


def _clip_vision(**extra: Any) -> dict[str, Any]:
    return dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64,
                num_hidden_layers=2, num_attention_heads=2, image_size=28, patch_size=14,
                projection_dim=32, initializer_range=0.3, **extra)


def _llama_text(vocab: dict[str, int], bos: str, eos: str, pad: str) -> dict[str, Any]:
    return dict(model_type="llama", vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                max_position_embeddings=2048, initializer_range=0.3, bos_token_id=vocab[bos],
                eos_token_id=vocab[eos], pad_token_id=vocab[pad])


def _vicuna_template(visual: dict[str, str]) -> str:
    """A Vicuna-style template ("USER: ... ASSISTANT:"), the layout of LLaVA-NeXT-Video
    and Video-LLaVA."""
    parts = ["{%- for m in messages -%}{%- if m['role'] == 'user' -%}USER: "
             "{%- elif m['role'] == 'system' -%}{%- else -%}ASSISTANT: {%- endif -%}"
             "{%- if m['content'] is string -%}{{ m['content'] }}"
             "{%- else -%}{%- for c in m['content'] -%}"]
    for i, (kind, text) in enumerate(visual.items()):
        parts.append(("{%- if" if i == 0 else "{%- elif") + f" c['type'] == '{kind}' -%}}{text}")
    parts.append("{%- elif c['type'] == 'text' -%}{{ c['text'] }}{%- endif -%}{%- endfor -%}"
                 "{%- endif -%}{{ ' ' }}{%- endfor -%}"
                 "{%- if add_generation_prompt -%}ASSISTANT:{%- endif -%}")
    return "".join(parts)


def _build_llava_next_video(path: Path, seed: int) -> Path:
    from transformers import (LlavaNextImageProcessor, LlavaNextVideoConfig,
                              LlavaNextVideoForConditionalGeneration, LlavaNextVideoProcessor,
                              LlavaNextVideoVideoProcessor)

    specials = ["<s>", "</s>", "<pad>", "<image>", "<video>"]
    template = _vicuna_template({"video": "<video>\n", "image": "<image>\n"})
    tok = _make_tokenizer(specials, pad="<pad>", eos="</s>", bos="<s>", chat_template=template)
    vocab = tok.get_vocab()
    cfg = LlavaNextVideoConfig(
        vision_config=_clip_vision(), text_config=_llama_text(vocab, "<s>", "</s>", "<pad>"),
        image_token_index=vocab["<image>"], video_token_index=vocab["<video>"],
        vision_feature_layer=-1, vision_feature_select_strategy="default",
        image_grid_pinpoints=[[28, 28]], spatial_pool_stride=2, image_seq_length=4,
        video_seq_length=1)
    _seed(seed)
    model = LlavaNextVideoForConditionalGeneration(cfg)
    size = {"height": 28, "width": 28}
    crop = {"height": 28, "width": 28}
    proc = LlavaNextVideoProcessor(
        video_processor=LlavaNextVideoVideoProcessor(size=size, crop_size=crop),
        image_processor=LlavaNextImageProcessor(size=size, crop_size=crop,
                                                image_grid_pinpoints=[[28, 28]]),
        tokenizer=tok, chat_template=template, patch_size=14,
        vision_feature_select_strategy="default", num_additional_image_tokens=1)
    _gen_ids(model, vocab["<pad>"], vocab["</s>"])
    return _save(model, proc, path)


def _build_llava_next(path: Path, seed: int) -> Path:
    """LLaVA-NeXT (image model, e.g. llama3-llava-next-8b): frames go in as images."""
    from transformers import (LlavaNextConfig, LlavaNextForConditionalGeneration,
                              LlavaNextImageProcessor, LlavaNextProcessor)

    specials = ["<s>", "</s>", "<pad>", "<image>"]
    template = _vicuna_template({"image": "<image>\n"})
    tok = _make_tokenizer(specials, pad="<pad>", eos="</s>", bos="<s>", chat_template=template)
    vocab = tok.get_vocab()
    cfg = LlavaNextConfig(
        vision_config=_clip_vision(), text_config=_llama_text(vocab, "<s>", "</s>", "<pad>"),
        image_token_index=vocab["<image>"], vision_feature_layer=-1,
        vision_feature_select_strategy="default", image_grid_pinpoints=[[28, 28]],
        image_seq_length=4)
    _seed(seed)
    model = LlavaNextForConditionalGeneration(cfg)
    size = {"height": 28, "width": 28}
    proc = LlavaNextProcessor(
        image_processor=LlavaNextImageProcessor(size=size, crop_size=size,
                                                image_grid_pinpoints=[[28, 28]]),
        tokenizer=tok, chat_template=template, patch_size=14,
        vision_feature_select_strategy="default", num_additional_image_tokens=1)
    _gen_ids(model, vocab["<pad>"], vocab["</s>"])
    return _save(model, proc, path)


def _build_video_llava(path: Path, seed: int) -> Path:
    from transformers import (VideoLlavaConfig, VideoLlavaForConditionalGeneration,
                              VideoLlavaImageProcessor, VideoLlavaProcessor)
    from transformers.models.video_llava.video_processing_video_llava import (
        VideoLlavaVideoProcessor)

    specials = ["<s>", "</s>", "<pad>", "<image>", "<video>"]
    template = _vicuna_template({"video": "<video>\n", "image": "<image>\n"})
    tok = _make_tokenizer(specials, pad="<pad>", eos="</s>", bos="<s>", chat_template=template)
    vocab = tok.get_vocab()
    cfg = VideoLlavaConfig(
        vision_config=_clip_vision(), text_config=_llama_text(vocab, "<s>", "</s>", "<pad>"),
        image_token_index=vocab["<image>"], video_token_index=vocab["<video>"],
        vision_feature_layer=-1, vision_feature_select_strategy="full",
        image_seq_length=5, video_seq_length=40)
    _seed(seed)
    model = VideoLlavaForConditionalGeneration(cfg)
    size = {"shortest_edge": 28}
    crop = {"height": 28, "width": 28}
    proc = VideoLlavaProcessor(
        image_processor=VideoLlavaImageProcessor(size=size, crop_size=crop),
        video_processor=VideoLlavaVideoProcessor(size=size, crop_size=crop),
        tokenizer=tok, patch_size=14, vision_feature_select_strategy="full",
        num_additional_image_tokens=1, chat_template=template)
    _gen_ids(model, vocab["<pad>"], vocab["</s>"])
    return _save(model, proc, path)


def _build_video_llama_3(path: Path, seed: int) -> Path:
    from transformers import (VideoLlama3Config, VideoLlama3ForConditionalGeneration,
                              VideoLlama3ImageProcessor, VideoLlama3Processor,
                              VideoLlama3VideoProcessor)

    tok = _qwen_tokenizer("You are a helpful assistant.")
    vocab = tok.get_vocab()
    cfg = VideoLlama3Config(
        text_config=dict(model_type="qwen2", **_qwen2_text(vocab)),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, patch_size=14, initializer_range=0.3),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"])
    _seed(seed)
    model = VideoLlama3ForConditionalGeneration(cfg)
    pixels = {"shortest_edge": 56 * 56, "longest_edge": 56 * 56}
    proc = VideoLlama3Processor(image_processor=VideoLlama3ImageProcessor(size=pixels),
                                tokenizer=tok,
                                video_processor=VideoLlama3VideoProcessor(size=pixels),
                                chat_template=tok.chat_template)
    _gen_ids(model, vocab["<|endoftext|>"], vocab["<|im_end|>"])
    return _save(model, proc, path)


def _build_mllama(path: Path, seed: int) -> Path:
    """Llama 3.2 Vision: an image model; the judges give it the sampled frames as images."""
    from transformers import (MllamaConfig, MllamaForConditionalGeneration,
                              MllamaImageProcessor, MllamaProcessor)

    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>",
                "<|start_header_id|>", "<|end_header_id|>", "<|image|>", "<|python_tag|>"]
    nl = "{{ '\\n\\n' }}"
    template = ("{{ bos_token }}{%- for m in messages -%}<|start_header_id|>{{ m['role'] }}"
                "<|end_header_id|>" + nl + "{%- if m['content'] is string -%}{{ m['content'] }}"
                "{%- else -%}{%- for c in m['content'] -%}{%- if c['type'] == 'image' -%}"
                "<|image|>{%- elif c['type'] == 'text' -%}{{ c['text'] }}{%- endif -%}"
                "{%- endfor -%}{%- endif -%}<|eot_id|>{%- endfor -%}"
                "{%- if add_generation_prompt -%}<|start_header_id|>assistant<|end_header_id|>"
                + nl + "{%- endif -%}")
    tok = _make_tokenizer(specials, pad="<|finetune_right_pad_id|>", eos="<|eot_id|>",
                          bos="<|begin_of_text|>", chat_template=template)
    vocab = tok.get_vocab()
    cfg = MllamaConfig(
        vision_config=dict(hidden_size=32, num_hidden_layers=2, num_global_layers=1,
                           attention_heads=2, intermediate_size=64, vision_output_dim=64,
                           image_size=28, patch_size=14, max_num_tiles=1,
                           intermediate_layers_indices=[0], supported_aspect_ratios=[[1, 1]],
                           initializer_range=0.3),
        text_config=dict(vocab_size=len(vocab) + 8, hidden_size=32, num_hidden_layers=3,
                         num_attention_heads=2, num_key_value_heads=1, intermediate_size=64,
                         cross_attention_layers=[1], max_position_embeddings=2048,
                         initializer_range=0.3, bos_token_id=vocab["<|begin_of_text|>"],
                         eos_token_id=vocab["<|eot_id|>"],
                         pad_token_id=vocab["<|finetune_right_pad_id|>"]),
        image_token_index=vocab["<|image|>"])
    _seed(seed)
    model = MllamaForConditionalGeneration(cfg)
    import torch

    with torch.no_grad():  # Llama 3.2 starts its gates at 0: open them so the frames matter
        for name, param in model.named_parameters():
            if name.endswith(("cross_attn_attn_gate", "cross_attn_mlp_gate", "embedding.gate")):
                param.fill_(1.0)
    proc = MllamaProcessor(image_processor=MllamaImageProcessor(
        size={"height": 28, "width": 28}, max_image_tiles=1), tokenizer=tok,
        chat_template=template)
    _gen_ids(model, vocab["<|finetune_right_pad_id|>"], vocab["<|eot_id|>"])
    return _save(model, proc, path)


_BUILDERS = {
    "qwen2_5_vl": _build_qwen2_5_vl,
    "qwen3_vl": _build_qwen3_vl,
    "internvl": _build_internvl,
    "llava_onevision": _build_llava_onevision,
    "clip": _build_clip,
    "siglip": _build_siglip,
    "blip_itm": _build_blip_itm,
    "qwen2_vl": _build_qwen2_vl,
    "llava_next_video": _build_llava_next_video,
    "video_llava": _build_video_llava,
    "llava_next": _build_llava_next,
    "video_llama_3": _build_video_llama_3,
    "mllama": _build_mllama,
}


def build_tiny(family: str, path: str | Path, seed: int = 0) -> Path:
    """Write a tiny random checkpoint of ``family`` to ``path`` and return the path.

    ``family`` is one of :data:`FAMILIES`. The result loads with the same
    calls as the real checkpoint of that family; weights are drawn from a
    generator seeded with ``seed``, so the same call gives the same files.
    """
    if family not in _BUILDERS:
        raise ValueError(f"unknown tiny family {family!r}; choose one of "
                         f"{', '.join(FAMILIES + EXTRA_FAMILIES)}")
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    out = _BUILDERS[family](p, seed)
    (p / "videojury_tiny.json").write_text(json.dumps({"family": family, "seed": seed}))
    return out
