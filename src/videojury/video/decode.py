"""Opening, probing and decoding videos (PyAV) and still images (OpenCV).

Decoding reads only as far as the last needed frame, converts to RGB only
the frames that are kept, and jumps over long gaps with a keyframe seek when
the stream has a constant frame rate, so sampling 8 frames from a long clip
costs far less than decoding all of it. Nothing but the kept frames is held
in memory.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import VideoError
from .sampling import FramePolicy

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".webm", ".mkv", ".avi", ".mov", ".gif", ".m4v", ".mpg",
                              ".mpeg", ".flv", ".ts", ".wmv", ".ogv", ".3gp"})
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS

# A gap (in frames) beyond which seeking to a keyframe is tried instead of
# decoding straight through. Short gaps are cheaper to decode than to seek.
_SEEK_GAP = 48


@dataclass(frozen=True)
class VideoInfo:
    """What a probe learns about a video.

    ``frame_count_exact`` is False when the container did not record the
    number of frames and it was estimated from duration x fps.
    """

    path: str
    frame_count: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str
    frame_count_exact: bool = True
    is_image: bool = False


@dataclass
class Frames:
    """Sampled frames: ``array`` uint8 RGB (T, H, W, 3) with their ``indices``
    in the source video and presentation ``timestamps`` in seconds."""

    array: np.ndarray
    indices: np.ndarray
    timestamps: np.ndarray
    info: VideoInfo

    def __len__(self) -> int:
        return int(self.array.shape[0])


def check_file(path: str | os.PathLike) -> None:
    """Refuse what is not a non-empty regular file, before anything opens or hashes it.

    One :class:`VideoError` naming the file and what it is instead: missing,
    a symbolic link loop, a broken link, a folder, a FIFO or a device (both
    would block a reader or never end), or empty.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VideoError(p, "is a symbolic link loop (the link leads back to itself); fix "
                                "or remove the link") from None
        if os.path.islink(p):
            raise VideoError(p, f"is a broken symbolic link (it points to {os.readlink(p)!r}, "
                                "which does not exist)") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise VideoError(p, "file does not exist; check the path (relative paths in a "
                                "manifest are resolved against the manifest's folder)") from None
        raise VideoError(p, f"cannot be read ({exc.strerror or exc})") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise VideoError(p, "is a directory, not a video file")
    if stat.S_ISFIFO(mode):
        raise VideoError(p, "is a named pipe (FIFO), not a video file; reading it would wait "
                            "for a writer forever, so save the stream to a file first")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise VideoError(p, "is a device, not a video file")
    if not stat.S_ISREG(mode):
        raise VideoError(p, "is not a regular file (a socket or other special file)")
    if st.st_size == 0:
        raise VideoError(p, "file is empty (0 bytes); re-export or remove it")


_check_file = check_file


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _read_image(path: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise VideoError(path, "cannot be decoded as an image (corrupt or not an image)")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(img)


def _open(path: Path):
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise VideoError(path, f"cannot be opened as a video ({why}); is it a video file, "
                               "and is it complete?") from None
    if not container.streams.video:
        container.close()
        raise VideoError(path, "contains no video stream")
    return container


def _stream_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if 0 < value < 1000:
                return value
    return 0.0


def probe(path: str | os.PathLike, exact: bool = False) -> VideoInfo:
    """Read a video's frame count, fps, duration and size without decoding it.

    When the container does not store the frame count (webm, mkv, some
    gifs), it is estimated from duration x fps, or counted exactly from the
    packets (no decoding) when ``exact`` is true.
    """
    p = Path(path)
    _check_file(p)
    if _is_image(p):
        img = _read_image(p)
        return VideoInfo(str(p), 1, 0.0, 0.0, img.shape[1], img.shape[0], p.suffix.lower()[1:],
                         True, True)
    container = _open(p)
    try:
        stream = container.streams.video[0]
        fps = _stream_fps(stream)
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        count = int(stream.frames or 0)
        exact_count = count > 0
        if not exact_count:
            if exact:
                count = sum(1 for pkt in container.demux(stream) if pkt.size)
                exact_count = True
            elif duration > 0 and fps > 0:
                count = max(1, round(duration * fps))
        if duration <= 0 and count > 0 and fps > 0:
            duration = count / fps
        width = int(stream.codec_context.width or 0)
        height = int(stream.codec_context.height or 0)
        codec = stream.codec_context.name or ""
    except VideoError:
        raise
    except Exception as exc:  # noqa: BLE001 - any FFmpeg failure is the file's fault
        raise VideoError(p, f"cannot be probed ({exc.__class__.__name__}: {exc})") from None
    finally:
        container.close()
    if width <= 0 or height <= 0:
        raise VideoError(p, "video stream has no frame size; the file is likely corrupt")
    return VideoInfo(str(p), count, fps, duration, width, height, codec, exact_count, False)


def _frame_index(frame, start: float, fps: float) -> int | None:
    if frame.time is None or fps <= 0:
        return None
    return int(round((frame.time - start) * fps))


def read_frames(
    path: str | os.PathLike, indices: Iterable[int], info: VideoInfo | None = None,
    allow_seek: bool = True,
) -> tuple[VideoInfo, dict[int, tuple[np.ndarray, float]]]:
    """Decode the frames at ``indices`` (0-based display order).

    Returns the probe info and a mapping index -> (RGB uint8 array, time in
    seconds). Indices past the end of the stream are missing from the mapping;
    callers decide whether that is an error. Frames are counted in decode
    order; when the stream has a constant frame rate and the next wanted frame
    is far ahead, the decoder seeks to the preceding keyframe instead of
    decoding the gap, and recovers the index from the frame's timestamp.
    """
    p = Path(path)
    wanted = sorted(set(int(i) for i in indices))
    if info is None:
        info = probe(p)
    if not wanted:
        return info, {}
    if info.is_image:
        img = _read_image(p)
        return info, ({0: (img, 0.0)} if wanted[0] == 0 else {})

    import av

    out: dict[int, tuple[np.ndarray, float]] = {}
    container = _open(p)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = info.fps
        tb = stream.time_base
        start = float(stream.start_time * tb) if (stream.start_time is not None and tb) else 0.0
        # Seeking needs a constant frame rate, so that a timestamp gives the index.
        can_seek = (allow_seek and fps > 0 and tb is not None and info.codec != "gif"
                    and stream.average_rate is not None and stream.guessed_rate is not None
                    and abs(float(stream.average_rate) - float(stream.guessed_rate)) < 1e-3)
        decoder = container.decode(stream)
        pos: int | None = 0  # index of the next frame out of the decoder; None after a seek
        i = 0
        while i < len(wanted):
            target = wanted[i]
            if can_seek and pos is not None and target - pos > _SEEK_GAP:
                ts = int(math.floor((start + (target - 0.5) / fps) / float(tb)))
                container.seek(max(ts, 0), backward=True, any_frame=False, stream=stream)
                decoder = container.decode(stream)
                pos = None
            frame = next(decoder, None)
            if frame is None:
                break  # end of stream
            if pos is None:
                idx = _frame_index(frame, start, fps)
                if idx is None or idx > target:
                    # Timestamps do not map to indices here: decode sequentially instead.
                    container.close()
                    container = _open(p)
                    stream = container.streams.video[0]
                    stream.thread_type = "AUTO"
                    decoder = container.decode(stream)
                    can_seek, pos = False, 0
                    continue
            else:
                idx = pos
            pos = idx + 1
            while i < len(wanted) and wanted[i] < idx:
                i += 1
            if i < len(wanted) and wanted[i] == idx:
                out[idx] = (frame.to_ndarray(format="rgb24"), float(frame.time or 0.0))
                i += 1
    except (av.error.FFmpegError, EOFError) as exc:
        if not out:
            raise VideoError(p, f"decoding failed ({exc.__class__.__name__}: {exc}); the file "
                                "may be truncated or corrupt") from None
        # Keep what decoded: a truncated tail is judged by the caller.
    finally:
        container.close()
    return info, out


def sample(
    path: str | os.PathLike, policy: FramePolicy, info: VideoInfo | None = None,
) -> Frames:
    """Decode the frames one policy asks for (see :func:`sample_many`)."""
    return sample_many(path, [policy], info=info)[policy]  # type: ignore[return-value]


def sample_many(
    path: str | os.PathLike, policies: Sequence[FramePolicy], info: VideoInfo | None = None,
    errors: str = "raise",
) -> dict[FramePolicy, Frames | VideoError]:
    """Decode a video once for several sampling policies.

    The union of the policies' frame indices is decoded in one pass; each
    policy then gets its own subset, resized as it asks. Raises
    :class:`VideoError` when the video cannot be read or has fewer frames
    than a policy's ``min_frames`` (the error names the policy). With
    ``errors="collect"``, a policy that cannot be served maps to its
    :class:`VideoError` instead, so other policies still get their frames.
    """
    p = Path(path)
    if info is None:
        info = probe(p, exact=True)
    elif not info.frame_count_exact:
        info = probe(p, exact=True)
    if info.frame_count <= 0:
        raise VideoError(p, "video has no frames")
    per_policy = {pol: pol.indices(info.frame_count, info.fps) for pol in dict.fromkeys(policies)}
    union = sorted(set(np.concatenate(list(per_policy.values())).tolist())) if per_policy else []
    info, decoded = read_frames(p, union, info=info)
    if union and not decoded:
        raise VideoError(p, "no frame could be decoded; the file is truncated or corrupt")
    result: dict[FramePolicy, Frames | VideoError] = {}
    for pol, idx in per_policy.items():
        got = [i for i in idx.tolist() if i in decoded]
        problem = None
        if len(got) < len(idx):
            # The container promised more frames than the stream holds: a truncated file.
            last = max(decoded) if decoded else -1
            problem = VideoError(p, f"stream ends after frame {last} although the container "
                                    f"declares {info.frame_count} frames; the file is "
                                    "truncated or corrupt")
        elif len(got) < pol.min_frames:
            problem = VideoError(p, f"has {len(got)} frame(s) but sampling {pol.describe()} "
                                    f"needs at least {pol.min_frames}")
        if problem is not None:
            if errors == "raise":
                raise problem
            result[pol] = problem
            continue
        arr = np.stack([decoded[i][0] for i in got]) if got else np.zeros(
            (0, info.height, info.width, 3), np.uint8)
        if pol.resize is not None and len(arr):
            arr = pol.resize.apply(arr)
        ts = np.array([decoded[i][1] for i in got], dtype=np.float64)
        result[pol] = Frames(np.ascontiguousarray(arr), np.asarray(got, dtype=np.int64), ts, info)
    return result


def iter_frames(path: str | os.PathLike) -> Iterable[tuple[int, np.ndarray, float]]:
    """Yield (index, RGB frame, time) for every frame, one at a time (streaming)."""
    p = Path(path)
    _check_file(p)
    if _is_image(p):
        yield 0, _read_image(p), 0.0
        return
    container = _open(p)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            yield i, frame.to_ndarray(format="rgb24"), float(frame.time or 0.0)
    finally:
        container.close()


def write_video(
    path: str | os.PathLike, frames: np.ndarray | Iterable[np.ndarray], fps: float = 24.0,
    codec: str = "libx264", crf: int | None = 18, pix_fmt: str = "yuv420p",
    gop: int | None = None,
) -> Path:
    """Encode uint8 RGB frames to a video file with PyAV (deterministic settings).

    Single-threaded encoding keeps the output byte-identical across runs.
    """
    import av

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    it = iter(frames)
    first = next(it)
    h, w = first.shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(p), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = w, h
        stream.pix_fmt = pix_fmt
        opts = {}
        if codec in ("libx264", "libx265"):
            opts["threads"] = "1"
            if crf is not None:
                opts["crf"] = str(crf)
            opts["preset"] = "medium"
        stream.options = opts
        stream.thread_count = 1
        if gop is not None:
            stream.codec_context.gop_size = gop
        for arr in (first, *it):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return p


def frames_hint(info: VideoInfo) -> str:
    """One-line description of a probed video for messages and listings."""
    return (f"{info.width}x{info.height}, {info.frame_count}{'' if info.frame_count_exact else '~'}"
            f" frames @ {info.fps:.3g} fps, {info.duration:.2f}s, {info.codec}")


__all__ = [
    "Frames", "IMAGE_EXTENSIONS", "MEDIA_EXTENSIONS", "VIDEO_EXTENSIONS", "VideoInfo",
    "frames_hint", "iter_frames", "probe", "read_frames", "sample", "sample_many", "write_video",
]

