"""Vision-language metrics on Hugging Face models (the ``[models]`` extra).

* :mod:`.clipscore`: ``clipscore``, ``siglip_score``, ``pickscore``,
  ``blip_itm``, ``clip_temporal`` (two-tower embeddings and BLIP matching);
* :mod:`.vqascore`: ``vqascore``, P("Yes") from a video chat model;
* :mod:`.level_judge`: ``judge_<aspect>`` and ``level_judge``, Q-Align-style
  expected levels;
* :mod:`.rationale`: ``rationale_judge``, VideoScore2-style explained scores;
* :mod:`.videoscore`: ``videoscore2``, ``videoscore2_prob`` (VideoScore2 as released) and
  ``videoscore`` (VideoScore v1/v1.1, Idefics2 + regression head);
* :mod:`.qa`: ``qa``, yes/no question answering;
* :mod:`.love`: ``love_perception``, ``love_correspondence``, ``love_qa`` (LOVE's
  released evaluators; model in :mod:`videojury.models.love`);
* :mod:`.prompts`: every prompt's wording, in one table.

Importing these modules needs neither torch nor transformers; models load
the first time a metric scores.
"""
