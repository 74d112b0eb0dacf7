"""The seeds' baseline collection: the 48 evaluators of LOVE's V2T leaderboards.

:data:`SEED_BASELINES` lists every evaluator of the LOVE / AIGVE-60K README's
V2T tables (instance-level order), with its category and how videojury runs
it: the metric specs that give its perception score, its correspondence score
and its QA answers (``None`` where it has none), or the issue that will bring
it. :func:`baseline_status` says, without loading anything, whether a row
runs now (weight-free), needs weights (the metric exists; the checkpoint is
downloaded on first use, or must be named with ``model=``), needs a key (a
hosted model behind an OpenAI-compatible endpoint), or needs a later issue. ``videojury metrics --suite seed-baselines`` prints the list and
``videojury score ... --suite seed-baselines`` scores the rows that run now
(``seed-baselines-all``: every row whose metrics exist).
"""

from __future__ import annotations

from dataclasses import dataclass

SUITES = ("seed-baselines", "seed-baselines-all")


@dataclass(frozen=True)
class Baseline:
    """One evaluator of the LOVE V2T leaderboard and how videojury runs it."""

    name: str            # as the LOVE README writes it
    category: str        # handcrafted, vqa_network, image_text, vbench, lmm, hosted, love
    perception: str | None = None      # metric spec (NAME[:OPT=VAL,..])
    correspondence: str | None = None
    qa: str | None = None
    later: str = ""      # why not yet: what a later issue has to bring
    note: str = ""

    @property
    def specs(self) -> list[str]:
        """The distinct metric specs of this row."""
        return list(dict.fromkeys(s for s in (self.perception, self.correspondence, self.qa) if s))


def _judge(model: str, note: str = "") -> Baseline:
    return Baseline("", "lmm", f"judge_quality:model={model}", f"judge_correspondence:model={model}",
                    f"qa:model={model}", note=note)


def _hosted(name: str, model: str, base_url: str = "", key: str = "", note: str = "") -> Baseline:
    opts = f"model=openai:{model}" + (f",base_url={base_url}" if base_url else "") + (
        f",api_key_env={key}" if key else "")
    return Baseline(name, "hosted", f"judge_quality:{opts}", f"judge_correspondence:{opts}",
                    f"qa:{opts}", note=note)


def _named(b: Baseline, name: str) -> Baseline:
    return Baseline(name, b.category, b.perception, b.correspondence, b.qa, b.later, b.note)


_UNVERIFIED = "hub id as its authors publish it; not run here (no download)"
_REMOTE = ("{} exists only as its repository's code (config model_type {}), an architecture "
           "transformers 5.24 does not have: videojury refuses it unless trust_remote_code=true "
           "is passed and has no test of that code")

SEED_BASELINES: tuple[Baseline, ...] = (
    Baseline("LOVE (Ours)", "love", "love_perception", "love_correspondence", "love_qa",
             note="not downloaded by videojury: hf download anonymousdb/LOVE-{Perception,"
                  "Correspondence,QA} first; their InternLM2 tokenizer needs "
                  "trust_remote_code=true (the model runs natively)"),
    _named(_judge("OpenGVLab/InternVL2_5-38B,trust_remote_code=true", _UNVERIFIED), "InternVL2.5 (38B)"),
    _hosted("Grok2 Vision", "grok-2-vision", "https://api.x.ai/v1", "XAI_API_KEY"),
    _named(_judge("OpenGVLab/InternVL2_5-78B,trust_remote_code=true", _UNVERIFIED + "; LOVE says 72B"),
           "InternVL2.5 (72B)"),
    _named(_judge("OpenGVLab/InternVL3-78B-hf", _UNVERIFIED + "; LOVE says 72B"), "InternVL3 (72B)"),
    _hosted("ChatGPT-4o", "gpt-4o"),
    _hosted("Gemini1.5-pro", "gemini-1.5-pro",
            "https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY",
            "Gemini's OpenAI-compatible endpoint"),
    _named(_judge("OpenGVLab/InternVL3-38B-hf", _UNVERIFIED), "InternVL3 (38B)"),
    _named(_judge("llava-hf/llava-onevision-qwen2-72b-ov-hf", _UNVERIFIED), "Llava-one-vision (72B)"),
    _named(_judge("Qwen/Qwen2.5-VL-72B-Instruct", _UNVERIFIED), "Qwen2.5-VL (72B)"),
    _hosted("Claude3.5", "claude-3-5-sonnet-latest", "https://api.anthropic.com/v1",
            "ANTHROPIC_API_KEY", "Anthropic's OpenAI-compatible endpoint sends no logprobs: the "
            "level judges stop with that message; qa and rationale_judge (text) run"),
    _named(_judge("qwen2-vl-72b", _UNVERIFIED), "Qwen2-VL (72B)"),
    Baseline("FGA-BLIP2", "image_text", "fga_blip2", "fga_blip2",
             note="except EvalMuse's fga_blip2.pth (model=fga-blip2): fetch it by hand, the "
                  "load error prints the command"),
    Baseline("HPSv2", "image_text", "hpsv2", "hpsv2"),
    Baseline("FAST-VQA", "vqa_network", "fast_vqa", "fast_vqa"),
    Baseline("HOSA", "handcrafted", "hosa", "hosa"),
    Baseline("ImageReward", "image_text", "imagereward", "imagereward"),
    Baseline("QAC", "handcrafted", "qac", "qac"),
    Baseline("NIQE", "handcrafted", "niqe", "niqe"),
    Baseline("BRISQUE", "handcrafted", "brisque", "brisque"),
    Baseline("AestheticScore", "image_text", "laion_aesthetic", "laion_aesthetic",
             note="LAION's improved aesthetic predictor on CLIP ViT-L/14"),
    _named(_judge("qwen2-vl-7b", _UNVERIFIED), "Qwen2-VL (7B)"),
    _named(_judge("qwen2.5-vl-7b"), "Qwen2.5-VL (7B)"),
    Baseline("VideoLlama3 (8B)", "lmm",
             later="transformers' VideoLlama3 architecture runs natively (tested on a tiny "
                   "checkpoint), but the released DAMO-NLP-SG/VideoLLaMA3-7B ships the authors' "
                   "own code layout; pass model=PATH of a transformers-format copy"),
    Baseline("DOVER", "vqa_network", "dover", "dover",
             note="DOVER's weights: S-Lab License 1.0, non-commercial use only"),
    Baseline("BMPRI", "handcrafted", "bmpri", "bmpri"),
    Baseline("V-Aesthetic Quality", "vbench", "aesthetic_quality", "aesthetic_quality",
             note="VBench's aesthetic quality: LAION's linear head sa_0_4_vit_l_14_linear per frame, /10"),
    _named(_judge("llava-next-8b", _UNVERIFIED + "; frames as images (LLaVA-NeXT-Video: "
                  "model=llava-next-video-7b)"), "LLaVA-NeXT (8B)"),
    Baseline("InternVideo2.5 (8B)", "lmm", later=_REMOTE.format("InternVideo2.5", "internvl_chat")),
    _named(_judge("OpenGVLab/InternVL2_5-8B,trust_remote_code=true", _UNVERIFIED), "InternVL2.5 (8B)"),
    Baseline("mPLUG-Owl3 (7B)", "lmm", later=_REMOTE.format("mPLUG-Owl3", "mplugowl3")),
    _named(_judge("OpenGVLab/InternVL3-9B-hf", _UNVERIFIED), "InternVL3 (9B)"),
    Baseline("SimpleVQA", "vqa_network", "simplevqa", "simplevqa",
             note="SimpleVQA's weights are on Google Drive: download them in a browser"),
    Baseline("PickScore", "image_text", "pickscore", "pickscore"),
    _named(_judge("video-llava-7b", _UNVERIFIED), "VideoLlava (7B)"),
    Baseline("V-Temporal Flickering", "vbench", "temporal_flickering", "temporal_flickering"),
    Baseline("BLIPScore", "image_text", "blip_itm", "blip_itm"),
    Baseline("BPRI", "handcrafted", "bpri", "bpri"),
    Baseline("VSFA", "vqa_network", "vsfa", "vsfa"),
    Baseline("CogAgent (18B)", "lmm", later=_REMOTE.format("CogAgent", "cogagent")),
    Baseline("V-Subject Consistency", "vbench", "subject_consistency", "subject_consistency"),
    Baseline("BVQA", "vqa_network", later="LOVE's link is vztu/BVQA_Benchmark, a feature-evaluation "
             "harness, not one model: nothing to port (docs/vqa_models.md)"),
    Baseline("V-Overall Consistency", "vbench", "overall_consistency", "overall_consistency"),
    Baseline("V-Imaging Quality", "vbench", "imaging_quality", "imaging_quality",
             note="VBench's imaging quality: MUSIQ (SPAQ) per frame after VBench's 512 resize, /100"),
    Baseline("CLIPScore", "image_text", "clipscore", "clipscore"),
    Baseline("VQAScore", "image_text", "vqascore", "vqascore"),
    _named(_judge("llama-3.2-11b-vision", _UNVERIFIED + "; gated on the hub; frames as images"),
           "Llama3.2-Vision (11B)"),
    Baseline("DeepseekVL2 (1B)", "lmm", later=_REMOTE.format("DeepSeek-VL2", "deepseek_vl_v2")),
)


def _metric_name(spec: str) -> str:
    return spec.split(":", 1)[0].strip()


def baseline_status(b: Baseline) -> tuple[str, str]:
    """``("runs" | "needs weights" | "needs a key" | "later", detail)`` for one row,
    loading nothing."""
    from .base import list_metrics, metric_class

    if not b.specs:
        return "later", b.later
    known = set(list_metrics())
    missing = [s for s in b.specs if _metric_name(s) not in known]
    if missing:
        return "later", f"metric {_metric_name(missing[0])} not in this version"
    if b.category == "hosted":
        env = next((o.split("=", 1)[1] for o in b.specs[0].split(",")
                    if o.startswith("api_key_env=")), "OPENAI_API_KEY")
        return "needs a key", (f"a hosted model (OpenAI-compatible chat completions): the key in "
                               f"${env}; " + (b.note or ""))
    extras = {metric_class(_metric_name(s)).extra or "core" for s in b.specs}
    if extras == {"core"}:
        return "runs", "weight-free"
    return "needs weights", "weights download on first use (the [models] extra); " + (b.note or "")


def baseline_rows() -> list[dict]:
    """The list as records (for ``videojury metrics --suite seed-baselines``)."""
    out = []
    for i, b in enumerate(SEED_BASELINES, 1):
        status, detail = baseline_status(b)
        out.append({"#": i, "evaluator": b.name, "category": b.category, "status": status,
                    "perception": b.perception or "", "correspondence": b.correspondence or "",
                    "qa": b.qa or "", "detail": detail.strip("; ")})
    return out


def suite_metrics(name: str) -> list[str]:
    """Metric specs of a baseline suite: ``seed-baselines`` (rows that run now) or
    ``seed-baselines-all`` (every row whose metrics exist), each spec once."""
    from ..errors import InputError

    if name not in SUITES:
        raise InputError(f"unknown --suite {name!r}; known: {', '.join(SUITES)}")
    want = ("runs",) if name == "seed-baselines" else ("runs", "needs weights")
    specs: list[str] = []
    for b in SEED_BASELINES:
        if baseline_status(b)[0] in want:
            # QA answers need a question per item: score them with `qa` on a questions manifest
            specs.extend(s for s in (b.perception, b.correspondence) if s and s not in specs)
    return specs
