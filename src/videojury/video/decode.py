"""Opening, probing and decoding videos (PyAV) and still images (OpenCV).

Decoding reads only as far as the last needed frame and converts to RGB only
the frames that are kept. For sparse sampling of a constant-frame-rate
stream, the container's packets are read once (no decoding) to learn every
frame's timestamp and where the keyframes are; the decoder then seeks only
when the next wanted frame lies in a later group of pictures (GOP) than the
current decode position, so sampling 8 frames of a long clip decodes only the
GOPs that hold them. Seeks only move forward, one per keyframe at most, so
decoding always ends.

Frames come out as a player shows them: the stream's display matrix
(rotation, flips) is applied, and :func:`probe` reports the displayed width
and height.

Each kept frame is resized for each policy that wants it as soon as it is
decoded (:func:`~videojury.video.sampling.resize_frame`), so only the
policies' outputs are held. A streamed policy (``FramePolicy(stream=True)``)
gets :class:`Frames` that decode lazily when iterated; nothing is held.
:func:`frames_from_array` applies the same sampling and resizing to a clip
already in memory.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import stat
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import VideoError
from .sampling import FramePolicy, resize_frame

log = logging.getLogger("videojury.video")

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".webm", ".mkv", ".avi", ".mov", ".gif", ".m4v", ".mpg",
                              ".mpeg", ".flv", ".ts", ".wmv", ".ogv", ".3gp"})
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS

# A seek is worth it only when it skips at least this many frames; shorter
# gaps are cheaper to decode straight through (a seek flushes the decoder).
_MIN_SEEK_SKIP = 8

# How a frame is turned to be shown: (transpose, flip rows, flip columns),
# applied in that order. Identity: nothing.
Orientation = tuple[bool, bool, bool]
_UPRIGHT: Orientation = (False, False, False)

MEMORY_PATH = "<memory>"


@dataclass(frozen=True)
class VideoInfo:
    """What a probe learns about a video.

    ``frame_count_exact`` is False when the container did not record the
    number of frames and it was estimated from duration x fps. ``width`` and
    ``height`` are the displayed size: swapped when the display matrix turns
    the picture by 90 degrees. ``rotation`` is the display matrix's rotation
    (counter-clockwise degrees, as FFmpeg and PyAV's ``frame.rotation``
    report it; -90 for a phone held upright) and ``orientation`` the
    (transpose, flip rows, flip columns) that the decoder applies.
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
    rotation: float = 0.0
    orientation: Orientation = _UPRIGHT


@dataclass
class Frames:
    """Sampled frames: ``array`` uint8 RGB (T, H, W, 3) with their ``indices``
    in the source video and presentation ``timestamps`` in seconds.

    Streamed frames (a policy with ``stream=True``) have ``array`` and
    ``timestamps`` set to None: :meth:`iter` decodes them one at a time.
    ``notes`` says what was done to them that the policy did not ask for
    (frames downscaled to fit the memory budget).
    """

    array: np.ndarray | None
    indices: np.ndarray
    timestamps: np.ndarray | None
    info: VideoInfo
    notes: tuple[str, ...] = ()
    source: Callable[[], Iterator[np.ndarray]] | None = field(default=None, repr=False,
                                                             compare=False)

    def __len__(self) -> int:
        if self.array is not None:
            return int(self.array.shape[0])
        return int(len(self.indices))

    @property
    def streamed(self) -> bool:
        """True when the frames are decoded as they are iterated (not held)."""
        return self.array is None

    def iter(self) -> Iterator[np.ndarray]:
        """The frames one at a time, in order (decoded lazily when streamed).

        A streamed source that ends early raises :class:`VideoError` (a
        truncated file) once its last frame has been yielded.
        """
        if self.array is not None:
            return iter(self.array)
        if self.source is None:
            raise VideoError(self.info.path, "these frames have no array and no source")
        return self.source()

    def materialize(self) -> Frames:
        """The same frames held in an array (decodes streamed frames; costs memory)."""
        if self.array is not None:
            return self
        arr = np.stack(list(self.iter())) if len(self) else np.zeros((0, 0, 0, 3), np.uint8)
        fps = self.info.fps or 1.0
        return Frames(arr, self.indices, self.indices / fps, self.info, self.notes)


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


# --- display matrix -----------------------------------------------------------

def display_orientation(matrix: Sequence[int]) -> tuple[float, Orientation]:
    """Rotation (counter-clockwise degrees, FFmpeg's convention) and the
    (transpose, flip rows, flip columns) that show a frame as a player does,
    from a 3x3 display matrix in FFmpeg's layout (9 integers, 16.16 fixed point).

    A turn by 90 degrees swaps width and height; a mirrored matrix (negative
    determinant) adds the flip. Matrices that are not a multiple of 90 degrees
    are rounded to the nearest quarter turn.
    """
    m = [float(v) for v in matrix]
    s0, s1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if s0 == 0 or s1 == 0:
        return 0.0, _UPRIGHT
    rotation = -math.degrees(math.atan2(m[1] / s1, m[0] / s0))
    quarter = round(-rotation / 90.0) % 4  # clockwise quarter turns a player applies
    if quarter == 1:    # a quarter turn clockwise (mirrored: a transpose)
        turn = (True, False, True) if m[3] < 0 else (True, False, False)
    elif quarter == 3:  # a quarter turn counter-clockwise (mirrored: the anti-transpose)
        turn = (True, True, True) if m[3] < 0 else (True, True, False)
    else:               # upright, a half turn, or a single mirror
        turn = (False, m[4] < 0, m[0] < 0)
    return rotation + 0.0, turn


def orient(frame: np.ndarray, orientation: Orientation) -> np.ndarray:
    """``frame`` (H, W, C) turned by ``orientation``, contiguous."""
    if orientation == _UPRIGHT:
        return frame
    transpose, flip_rows, flip_cols = orientation
    out = frame.swapaxes(0, 1) if transpose else frame
    if flip_rows:
        out = out[::-1]
    if flip_cols:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def _frame_matrix(frame) -> list[int] | None:
    try:
        for sd in frame.side_data:
            if "DISPLAYMATRIX" in str(getattr(sd, "type", "")):
                return np.frombuffer(bytes(sd), dtype="<i4")[:9].tolist()
    except Exception:  # noqa: BLE001 - no side data is no rotation
        return None
    return None


def _first_frame_orientation(container, stream) -> tuple[float, Orientation]:
    """The display matrix of the stream, read from its first decoded frame."""
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                matrix = _frame_matrix(frame)
                return display_orientation(matrix) if matrix else (0.0, _UPRIGHT)
    except Exception:  # noqa: BLE001 - decode problems are reported by the decoder
        pass
    return 0.0, _UPRIGHT


def probe(path: str | os.PathLike, exact: bool = False) -> VideoInfo:
    """Read a video's frame count, fps, duration and displayed size.

    When the container does not store the frame count (webm, mkv, some
    gifs), it is estimated from duration x fps, or counted exactly from the
    packets (no decoding) when ``exact`` is true. The first frame is decoded
    to read the display matrix (rotation).
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
        width = int(stream.codec_context.width or 0)
        height = int(stream.codec_context.height or 0)
        codec = stream.codec_context.name or ""
        rotation, orientation = _first_frame_orientation(container, stream)
        count = int(stream.frames or 0)
        exact_count = count > 0
        if not exact_count:
            if exact:
                container.close()
                container = _open(p)
                stream = container.streams.video[0]
                count = sum(1 for pkt in container.demux(stream) if pkt.size)
                exact_count = True
            elif duration > 0 and fps > 0:
                count = max(1, round(duration * fps))
        if duration <= 0 and count > 0 and fps > 0:
            duration = count / fps
    except VideoError:
        raise
    except Exception as exc:  # noqa: BLE001 - any FFmpeg failure is the file's fault
        raise VideoError(p, f"cannot be probed ({exc.__class__.__name__}: {exc})") from None
    finally:
        container.close()
    if width <= 0 or height <= 0:
        raise VideoError(p, "video stream has no frame size; the file is likely corrupt")
    if orientation[0]:
        width, height = height, width
    return VideoInfo(str(p), count, fps, duration, width, height, codec, exact_count, False,
                     rotation, orientation)


# --- the decoder ----------------------------------------------------------------

@dataclass(frozen=True)
class _KeyIndex:
    """Every frame's timestamp (display order) and the keyframes, from the packets."""

    index_of_pts: dict[int, int]
    key_indices: np.ndarray  # display indices of keyframes, ascending
    key_pts: np.ndarray

    def keyframe_before(self, target: int) -> tuple[int, int]:
        """(display index, pts) of the last keyframe at or before ``target``."""
        j = int(np.searchsorted(self.key_indices, target, side="right")) - 1
        j = max(j, 0)
        return int(self.key_indices[j]), int(self.key_pts[j])


def _key_index(path: Path, info: VideoInfo, stats: dict[str, int]) -> _KeyIndex | None:
    """Read the packets once (no decoding) to map timestamps to frame indices.

    None when seeking cannot be trusted: a packet without a timestamp, a
    packet count that differs from the frame count, or timestamps that are not
    evenly spaced at the stream's frame rate (variable frame rate). Frames are
    then decoded sequentially and counted.
    """
    import av

    try:
        container = _open(path)
    except VideoError:
        return None
    try:
        stream = container.streams.video[0]
        tb = stream.time_base
        if tb is None or info.fps <= 0:
            return None
        pts_list: list[int] = []
        keys: list[int] = []
        for pkt in container.demux(stream):
            if not pkt.size:
                continue
            stats["index_packets"] = stats.get("index_packets", 0) + 1
            if pkt.pts is None or getattr(pkt, "is_discard", False):
                return None
            pts_list.append(int(pkt.pts))
            if pkt.is_keyframe:
                keys.append(int(pkt.pts))
    except (av.error.FFmpegError, EOFError):
        return None
    finally:
        container.close()
    if not pts_list or len(pts_list) != info.frame_count or not keys:
        return None
    pts = np.array(sorted(pts_list), dtype=np.int64)
    if len(np.unique(pts)) != len(pts):
        return None
    # Constant frame rate: evenly spaced timestamps (one tick of rounding
    # allowed) on the stream's frame-rate grid. Otherwise decode sequentially.
    if len(pts) > 1:
        step = np.diff(pts)
        mid = float(np.median(step))
        if np.abs(step - mid).max() > max(1.0, 0.01 * mid):
            return None
    expected = np.rint((pts - pts[0]) * float(tb) * info.fps).astype(np.int64)
    if not np.array_equal(expected, np.arange(len(pts))):
        return None
    index_of_pts = {int(v): i for i, v in enumerate(pts.tolist())}
    key_idx = np.array(sorted(index_of_pts[k] for k in set(keys)), dtype=np.int64)
    key_pts = pts[key_idx]
    return _KeyIndex(index_of_pts, key_idx, key_pts)


def _worth_indexing(wanted: Sequence[int]) -> bool:
    prev = -1
    for w in wanted:
        if w - prev > _MIN_SEEK_SKIP:
            return True
        prev = w
    return False


def _decode(
    p: Path, info: VideoInfo, wanted: Sequence[int] | None, allow_seek: bool = True,
    stats: dict[str, int] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield (display index, PyAV frame) for the ``wanted`` indices (sorted,
    unique), or for every frame when ``wanted`` is None.

    Raises :class:`VideoError` when decoding fails before any frame came out;
    a failure later ends the iteration (a truncated tail is the caller's call).
    """
    import av

    stats = {} if stats is None else stats
    for k in ("packets", "frames", "seeks"):
        stats.setdefault(k, 0)
    index = None
    if (allow_seek and wanted is not None and info.fps > 0 and info.codec != "gif"
            and _worth_indexing(wanted)):
        index = _key_index(p, info, stats)

    container = _open(p)
    yielded = False

    def frames_of(cont, stream) -> Iterator[Any]:
        for packet in cont.demux(stream):
            if packet.size:
                stats["packets"] += 1
            for frame in packet.decode():
                stats["frames"] += 1
                yield frame

    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = frames_of(container, stream)
        pos = 0  # display index of the next frame out of the decoder
        last_seek = 0  # keyframe of the last seek: seeks only ever move forward
        i = 0
        while wanted is None or i < len(wanted):
            target = wanted[i] if wanted is not None else pos
            if index is not None:
                key, key_pts = index.keyframe_before(target)
                if key > last_seek and key - pos >= _MIN_SEEK_SKIP:
                    container.seek(key_pts, backward=True, any_frame=False, stream=stream)
                    stats["seeks"] += 1
                    frames = frames_of(container, stream)
                    last_seek = key
            frame = next(frames, None)
            if frame is None:
                break  # end of stream
            if index is not None:
                idx = index.index_of_pts.get(frame.pts) if frame.pts is not None else None
                if idx is None or (wanted is not None and idx > target):
                    # Timestamps do not lead back to indices: decode from the start.
                    container.close()
                    container = _open(p)
                    stream = container.streams.video[0]
                    stream.thread_type = "AUTO"
                    frames = frames_of(container, stream)
                    index, pos = None, 0
                    continue
            else:
                idx = pos
            pos = idx + 1
            if wanted is None:
                yielded = True
                yield idx, frame
                continue
            while i < len(wanted) and wanted[i] < idx:
                i += 1
            if i < len(wanted) and wanted[i] == idx:
                yielded = True
                yield idx, frame
                i += 1
    except (av.error.FFmpegError, EOFError) as exc:
        if not yielded:
            raise VideoError(p, f"decoding failed ({exc.__class__.__name__}: {exc}); the file "
                                "may be truncated or corrupt") from None
        # Keep what decoded: a truncated tail is judged by the caller.
    finally:
        container.close()


def _rgb(frame, info: VideoInfo) -> np.ndarray:
    return orient(frame.to_ndarray(format="rgb24"), info.orientation)


def read_frames(
    path: str | os.PathLike, indices: Iterable[int], info: VideoInfo | None = None,
    allow_seek: bool = True, stats: dict[str, int] | None = None,
) -> tuple[VideoInfo, dict[int, tuple[np.ndarray, float]]]:
    """Decode the frames at ``indices`` (0-based display order).

    Returns the probe info and a mapping index -> (RGB uint8 array as shown
    by a player, time in seconds). Indices past the end of the stream are
    missing from the mapping; callers decide whether that is an error.
    ``stats``, when given, receives counts: ``packets`` and ``frames`` read
    and decoded, ``seeks``, and ``index_packets`` read to build the keyframe
    index.
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
    out = {idx: (_rgb(frame, info), float(frame.time or 0.0))
           for idx, frame in _decode(p, info, wanted, allow_seek, stats)}
    return info, out


def sample(
    path: str | os.PathLike, policy: FramePolicy, info: VideoInfo | None = None,
) -> Frames:
    """Decode the frames one policy asks for (see :func:`sample_many`)."""
    return sample_many(path, [policy], info=info)[policy]  # type: ignore[return-value]


@dataclass(frozen=True)
class _Prep:
    """How one policy's frames are made from source frames (shared by files and arrays)."""

    size: tuple[int, int] | None  # None: keep the source size
    notes: tuple[str, ...]

    @classmethod
    def plan(cls, policy: FramePolicy, info: VideoInfo, count: int) -> _Prep:
        tw, th, note = policy.plan_size(info.width, info.height, count)
        if note:
            log.warning("%s: %s", info.path, note)
        if policy.resize is None and note is None:
            return cls(None, ())
        return cls((tw, th), (note,) if note else ())

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self.size is None:
            return frame
        return resize_frame(frame, *self.size)


def _truncated(p: Path | str, last: int, info: VideoInfo) -> VideoError:
    return VideoError(p, f"stream ends after frame {last} although the container declares "
                         f"{info.frame_count} frames; the file is truncated or corrupt")


def _too_short(p: Path | str, got: int, policy: FramePolicy) -> VideoError:
    return VideoError(p, f"has {got} frame(s) but sampling {policy.describe()} needs at least "
                         f"{policy.min_frames}")


@dataclass(frozen=True)
class _FileSource:
    """Decodes a streamed policy's frames from the file each time it is called."""

    path: str
    info: VideoInfo
    indices: tuple[int, ...]
    prep: _Prep

    def __call__(self) -> Iterator[np.ndarray]:
        p = Path(self.path)
        if self.info.is_image:
            if self.indices:
                out = self.prep(_read_image(p))
                for _ in self.indices:
                    yield out
            return
        n, last, shape = 0, -1, None
        repeats: dict[int, int] = {}
        for i in self.indices:  # ``love`` sampling may repeat an index
            repeats[i] = repeats.get(i, 0) + 1
        for idx, frame in _decode(p, self.info, sorted(repeats)):
            n, last = n + repeats.get(idx, 1), idx
            out = self.prep(_rgb(frame, self.info))
            if shape is None:
                shape = out.shape
            elif out.shape != shape:  # the stream changed size: keep the first frame's size
                out = resize_frame(out, shape[1], shape[0])
            for _ in range(repeats.get(idx, 1)):
                yield out
        if n < len(self.indices):
            raise _truncated(p, last, self.info)


@dataclass(frozen=True)
class _ArraySource:
    """Yields a streamed policy's frames from a clip in memory."""

    video: np.ndarray
    indices: tuple[int, ...]
    prep: _Prep

    def __call__(self) -> Iterator[np.ndarray]:
        for i in self.indices:
            frame = self.prep(self.video[i])
            # a copy when not resized: a metric may change its frames, not the caller's clip
            yield frame.copy() if self.prep.size is None else frame


def sample_many(
    path: str | os.PathLike, policies: Sequence[FramePolicy], info: VideoInfo | None = None,
    errors: str = "raise",
) -> dict[FramePolicy, Frames | VideoError]:
    """Decode a video once for several sampling policies.

    The union of the held policies' frame indices is decoded in one pass;
    each decoded frame is resized at once for every policy that wants it.
    Streamed policies get :class:`Frames` that decode on iteration. Raises
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
    result: dict[FramePolicy, Frames | VideoError] = {}
    held: dict[FramePolicy, tuple[np.ndarray, _Prep]] = {}
    for pol in dict.fromkeys(policies):
        idx = pol.indices(info.frame_count, info.fps)
        if len(idx) < pol.min_frames:
            problem = _too_short(p, len(idx), pol)
            if errors == "raise":
                raise problem
            result[pol] = problem
            continue
        prep = _Prep.plan(pol, info, len(idx))
        if pol.stream:
            src = _FileSource(str(p), info, tuple(int(i) for i in idx), prep)
            result[pol] = Frames(None, idx, None, info, prep.notes, src)
        else:
            held[pol] = (idx, prep)
    if not held:
        return result
    union = sorted(set(np.concatenate([idx for idx, _ in held.values()]).tolist()))
    wants: dict[int, list[FramePolicy]] = {}
    for pol, (idx, _) in held.items():
        for i in idx.tolist():
            wants.setdefault(i, []).append(pol)
    # Each policy's output array is allocated once, at its first frame, and
    # filled in place: no second copy of the frames is ever made.
    # An index may appear more than once (``love`` sampling keeps LOVE's repeats).
    row_of: dict[FramePolicy, dict[int, list[int]]] = {}
    for pol, (idx, _) in held.items():
        rows: dict[int, list[int]] = {}
        for r, i in enumerate(idx.tolist()):
            rows.setdefault(i, []).append(r)
        row_of[pol] = rows
    n_rows = {pol: len(idx) for pol, (idx, _) in held.items()}
    bufs: dict[FramePolicy, np.ndarray] = {}
    filled = {pol: 0 for pol in held}
    times: dict[int, float] = {}
    if info.is_image:
        decoded = [(0, _read_image(p), 0.0)] if union and union[0] == 0 else []
    else:
        decoded = ((idx, _rgb(frame, info), float(frame.time or 0.0))
                   for idx, frame in _decode(p, info, union))
    for idx, rgb, t in decoded:
        times[idx] = t
        for pol in wants.get(idx, ()):
            out = held[pol][1](rgb)
            buf = bufs.get(pol)
            if buf is None:
                buf = bufs[pol] = np.empty((n_rows[pol], *out.shape), dtype=np.uint8)
            elif out.shape != buf.shape[1:]:
                # the stream changed size mid-way: keep the first frame's size
                out = resize_frame(out, buf.shape[2], buf.shape[1])
            for r in row_of[pol][idx]:
                buf[r] = out
            filled[pol] += len(row_of[pol][idx])
        del rgb
    if union and not times:
        raise VideoError(p, "no frame could be decoded; the file is truncated or corrupt")
    for pol, (idx, prep) in held.items():
        if filled[pol] < len(idx):
            # The container promised more frames than the stream holds: a truncated file.
            problem = _truncated(p, max(times) if times else -1, info)
            if errors == "raise":
                raise problem
            result[pol] = problem
            continue
        ts = np.array([times[i] for i in idx.tolist()], dtype=np.float64)
        result[pol] = Frames(bufs[pol], np.asarray(idx, dtype=np.int64), ts, info, prep.notes)
    return {pol: result[pol] for pol in dict.fromkeys(policies)}


# --- frames already in memory -------------------------------------------------------

def as_video_array(video: Any) -> np.ndarray:
    """A clip in memory as a uint8 RGB (T, H, W, 3) numpy array.

    Accepts a numpy array or a torch tensor, either uint8 (T, H, W, 3), or
    floating point (T, 3, H, W) with values in [0, 1]. Floats become
    ``round(255 * x)`` (round half to even, ``np.rint``); values outside
    [0, 1] (beyond half a grey level) or not finite are refused.
    """
    where = MEMORY_PATH
    if type(video).__module__.split(".")[0] == "torch":
        t = video.detach().cpu()
        if t.is_floating_point():
            t = t.float()
        arr = t.numpy()
    elif isinstance(video, np.ndarray):
        arr = video
    else:
        raise VideoError(where, f"expected a numpy array or torch tensor, got "
                                f"{type(video).__name__}")
    if arr.ndim != 4:
        hint = " (one image: add a time axis, video[None])" if arr.ndim == 3 else ""
        raise VideoError(where, f"expected a 4-d clip, uint8 (T, H, W, 3) or float (T, 3, H, W); "
                                f"got shape {tuple(arr.shape)}{hint}")
    if arr.dtype == np.uint8:
        if arr.shape[3] != 3:
            raise VideoError(where, f"a uint8 clip must be (T, H, W, 3) RGB; got shape "
                                    f"{tuple(arr.shape)}")
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.shape[1] != 3:
            raise VideoError(where, f"a float clip must be (T, 3, H, W) with values in [0, 1]; "
                                    f"got shape {tuple(arr.shape)}")
        if arr.size:
            lo, hi = float(np.min(arr)), float(np.max(arr))
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo < -0.5 / 255 or \
                    hi > 1 + 0.5 / 255:
                raise VideoError(where, f"float clip values must lie in [0, 1]; got "
                                        f"[{lo:.4g}, {hi:.4g}]")
        out = np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(out.transpose(0, 2, 3, 1))
    raise VideoError(where, f"clip dtype must be uint8 or floating point, got {arr.dtype}")


def frames_from_array(video: Any, fps: float, policy: FramePolicy) -> Frames:
    """Apply a policy's sampling and resizing to a clip in memory.

    ``video``: see :func:`as_video_array`; ``fps``: its frame rate (used by
    ``fps(r)`` sampling and by metrics that read it). The frames are picked
    and resized by the same code as the decoder's, so a clip in memory gives
    the same frames as the same clip decoded from a lossless file.
    """
    arr = as_video_array(video)
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise VideoError(MEMORY_PATH, f"fps must be a positive number, got {fps!r}")
    t, h, w = arr.shape[:3]
    if t == 0:
        raise VideoError(MEMORY_PATH, "the clip has no frames")
    info = VideoInfo(MEMORY_PATH, t, fps, t / fps, w, h, "memory", True, False)
    idx = policy.indices(t, fps)
    if len(idx) < policy.min_frames:
        raise _too_short(MEMORY_PATH, len(idx), policy)
    prep = _Prep.plan(policy, info, len(idx))
    if policy.stream:
        return Frames(None, idx, None, info, prep.notes,
                      _ArraySource(arr, tuple(int(i) for i in idx), prep))
    frames = np.stack([prep(arr[i]) for i in idx.tolist()])
    return Frames(np.ascontiguousarray(frames), idx, idx / fps, info, prep.notes)


def iter_frames(path: str | os.PathLike) -> Iterable[tuple[int, np.ndarray, float]]:
    """Yield (index, RGB frame, time) for every frame, one at a time (streaming)."""
    p = Path(path)
    _check_file(p)
    if _is_image(p):
        yield 0, _read_image(p), 0.0
        return
    info = probe(p)
    for i, frame in _decode(p, info, None):
        yield i, _rgb(frame, info), float(frame.time or 0.0)


def write_video(
    path: str | os.PathLike, frames: np.ndarray | Iterable[np.ndarray], fps: float = 24.0,
    codec: str = "libx264", crf: int | None = 18, pix_fmt: str = "yuv420p",
    gop: int | None = None, rotation: float | None = None, hflip: bool = False,
    vflip: bool = False,
) -> Path:
    """Encode uint8 RGB frames to a video file with PyAV (deterministic settings).

    Single-threaded encoding keeps the output byte-identical across runs.
    ``gop=None`` keeps the encoder's default keyframe spacing (x264: 250).
    ``rotation`` (counter-clockwise degrees, as read back from PyAV's
    ``frame.rotation``) and the flips write a display matrix, as a phone does.
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
        if rotation is not None or hflip or vflip:
            if not hasattr(stream, "set_display_rotation"):
                raise VideoError(p, "writing a display matrix needs a newer PyAV (pip install "
                                    "-U av)")
            stream.set_display_rotation(float(rotation or 0.0), hflip=hflip, vflip=vflip)
        for arr in (first, *it):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return p


def frames_hint(info: VideoInfo) -> str:
    """One-line description of a probed video for messages and listings."""
    turned = f", shown rotated {info.rotation:g} deg" if info.orientation != _UPRIGHT else ""
    return (f"{info.width}x{info.height}, {info.frame_count}{'' if info.frame_count_exact else '~'}"
            f" frames @ {info.fps:.3g} fps, {info.duration:.2f}s, {info.codec}{turned}")


__all__ = [
    "Frames", "IMAGE_EXTENSIONS", "MEDIA_EXTENSIONS", "MEMORY_PATH", "VIDEO_EXTENSIONS",
    "VideoInfo", "as_video_array", "display_orientation", "frames_from_array", "frames_hint",
    "iter_frames", "orient", "probe", "read_frames", "sample", "sample_many", "write_video",
]
