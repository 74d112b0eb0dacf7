"""Video input: probe, decode and sample frames (PyAV), resize, write clips, and apply the
same sampling to clips already in memory."""

from .decode import (
    IMAGE_EXTENSIONS,
    MEDIA_EXTENSIONS,
    MEMORY_PATH,
    VIDEO_EXTENSIONS,
    Frames,
    VideoInfo,
    as_video_array,
    display_orientation,
    frames_from_array,
    frames_hint,
    iter_frames,
    orient,
    probe,
    read_frames,
    sample,
    sample_many,
    write_video,
)
from .sampling import PIXEL_BUDGET, STREAM_HOLD, FramePolicy, Resize, resize_frame

__all__ = [
    "FramePolicy", "Frames", "IMAGE_EXTENSIONS", "MEDIA_EXTENSIONS", "MEMORY_PATH", "PIXEL_BUDGET",
    "Resize", "STREAM_HOLD", "VIDEO_EXTENSIONS", "VideoInfo", "as_video_array",
    "display_orientation", "frames_from_array", "frames_hint", "iter_frames", "orient", "probe",
    "read_frames", "resize_frame", "sample", "sample_many", "write_video",
]
