"""Video input: probe, decode and sample frames (PyAV), resize, and write clips."""

from .decode import (
    IMAGE_EXTENSIONS,
    MEDIA_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Frames,
    VideoInfo,
    frames_hint,
    iter_frames,
    probe,
    read_frames,
    sample,
    sample_many,
    write_video,
)
from .sampling import FramePolicy, Resize

__all__ = [
    "FramePolicy", "Frames", "IMAGE_EXTENSIONS", "MEDIA_EXTENSIONS", "Resize", "VIDEO_EXTENSIONS",
    "VideoInfo", "frames_hint", "iter_frames", "probe", "read_frames", "sample", "sample_many",
    "write_video",
]
