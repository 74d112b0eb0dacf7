"""Deep video-quality networks (FAST-VQA, FasterVQA, DOVER): architectures on torchvision,
official checkpoint conversion (:mod:`.nets`) and the official test-time views (:mod:`.views`).
Imports torch; only :mod:`videojury.metrics.vqa` loads it, when a metric runs."""
