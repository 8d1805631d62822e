"""Video reading/writing: the real UCF101 clip, lossless round trips, broken files."""
from __future__ import annotations

import re

import numpy as np
import pytest

from arsr.data.video import (VideoReader, VideoReadError, VideoWriter, probe_video, read_video,
                             write_video)


def _textured_clip(t=6, h=48, w=64, seed=0) -> np.ndarray:
    """(t, h, w, 3) uint8: a fine grating (period 3 px) plus noise, moving 1 px per frame."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    frames = []
    for i in range(t):
        grating = 127 + 80 * np.cos(2 * np.pi * (x + i) / 3.0)
        rgb = np.stack([grating, 255 - grating, grating * 0.5 + 40], -1)
        frames.append(rgb + rng.normal(0, 6, rgb.shape))
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def test_reads_real_ucf101_clip(refdata):
    clip = refdata / "ucf101_sample" / "v_Basketball_g01_c01.avi"
    frames = read_video(clip)
    assert frames.dtype == np.uint8
    assert frames.shape[1:] == (240, 320, 3)
    assert abs(frames.shape[0] - 141) <= 1, frames.shape
    assert 20 < frames.mean() < 235 and frames.std() > 10  # real picture, not a blank decode
    info = probe_video(clip)
    assert (info["height"], info["width"]) == (240, 320)
    assert abs(info["n_frames"] - 141) <= 1
    assert info["fps"] == pytest.approx(29.97, abs=0.01)
    assert read_video(clip, max_frames=5).shape == (5, 240, 320, 3)
    # the channel order is RGB: the first 5 frames agree with the full decode
    np.testing.assert_array_equal(read_video(clip, max_frames=5), frames[:5])


def test_lossless_round_trip(tmp_path):
    frames = _textured_clip()
    path = tmp_path / "clip.avi"
    codec = write_video(path, frames, fps=25.0)
    back = read_video(path)
    assert back.shape == frames.shape
    err = np.abs(back.astype(int) - frames.astype(int))
    if codec in ("FFV1", "HFYU", "png "):
        assert err.max() == 0, codec
    else:  # MJPG fallback: near-lossless in luma only, chroma is subsampled
        assert err.mean() < 40, (codec, err.mean())
    info = probe_video(path)
    assert info == {"n_frames": 6, "height": 48, "width": 64, "fps": pytest.approx(25.0)}
    assert [p.name for p in tmp_path.iterdir()] == ["clip.avi"]  # no temporary file left


def test_mjpg_fallback_keeps_luma_detail(tmp_path):
    # JPEG halves the chroma resolution, so only luminance detail survives: test a grey clip
    frames = np.repeat(_textured_clip()[..., :1], 3, axis=-1)
    write_video(tmp_path / "clip.avi", frames, fourcc="MJPG")
    back = read_video(tmp_path / "clip.avi")
    err = np.abs(back.astype(int) - frames.astype(int))
    assert back.shape == frames.shape
    assert err.mean() < 2.5 and err.max() < 20, (err.mean(), err.max())


def test_write_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "a.avi", np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        write_video(tmp_path / "a.avi", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\.avi or \.mkv"):
        write_video(tmp_path / "a.mp4", np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(RuntimeError, match="no video codec"):
        write_video(tmp_path / "a.avi", np.zeros((2, 8, 8, 3), np.uint8), fourcc="ZZZZ")
    assert not list(tmp_path.iterdir())


def test_missing_file(tmp_path):
    path = tmp_path / "nope.avi"
    with pytest.raises(VideoReadError, match="nope.avi: no such file"):
        read_video(path)
    with pytest.raises(VideoReadError, match="nope.avi"):
        probe_video(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.avi"
    path.write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty.avi: the file is empty"):
        read_video(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.avi"
    path.write_bytes(np.random.default_rng(0).bytes(50_000))
    with pytest.raises(VideoReadError, match="noise.avi: OpenCV/FFmpeg cannot open it"):
        read_video(path)
    with pytest.raises(VideoReadError, match="noise.avi"):
        probe_video(path)


@pytest.mark.parametrize("fraction", [0.01, 0.5])
def test_truncated_real_clip(refdata, tmp_path, fraction):
    data = (refdata / "ucf101_sample" / "v_Basketball_g01_c01.avi").read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(VideoReadError, match="cut.avi"):
        read_video(path)
    if fraction == 0.5:  # the half that decodes is still there for those who want it
        part = read_video(path, strict=False)
        assert 10 < part.shape[0] < 141


def test_truncated_written_clip(tmp_path):
    frames = _textured_clip(t=20)
    path = tmp_path / "cut.avi"
    write_video(path, frames)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoReadError, match="cut.avi"):
        read_video(path)


# ---------------------------------------------------------------------------------------------
# Streaming reader and writer


@pytest.mark.parametrize("ext", [".mkv", ".avi"])
def test_streaming_round_trip(tmp_path, ext):
    frames = _textured_clip(t=7, h=24, w=40)
    path = tmp_path / f"clip{ext}"
    with VideoWriter(path, fps=12.5) as out:
        for frame in frames:
            out.write(frame)
            assert not path.exists()  # written under a temporary name until the end
    assert out.lossless and out.fourcc == write_video(tmp_path / f"whole{ext}", frames)
    assert out.written == 7
    with VideoReader(path) as video:
        assert (video.announced, video.height, video.width) == (7, 24, 40)
        assert video.fps == pytest.approx(12.5)
        back = np.stack(list(video))
        assert video.decoded == 7 and list(video) == []  # decoded once
    np.testing.assert_array_equal(back, frames)
    np.testing.assert_array_equal(back, read_video(tmp_path / f"whole{ext}"))
    with VideoReader(path, max_frames=3) as video:
        assert len(list(video)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"clip{ext}", f"whole{ext}"])


def test_streaming_writer_leaves_no_half_file(tmp_path):
    path = tmp_path / "out.mkv"
    path.write_bytes(b"old")
    frames = _textured_clip(t=3, h=16, w=16)
    with pytest.raises(KeyError):
        with VideoWriter(path) as out:
            out.write(frames[0])
            raise KeyError("stopped half way")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.mkv"]
    with pytest.raises(ValueError, match="every frame must have one size"):
        with VideoWriter(tmp_path / "sizes.mkv") as out:
            out.write(frames[0])
            out.write(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="empty.mkv: no frame was written"):
        with VideoWriter(tmp_path / "empty.mkv"):
            pass
    with pytest.raises(RuntimeError, match="no video codec"):
        with VideoWriter(tmp_path / "a.avi", fourcc="ZZZZ") as out:
            out.write(frames[0])
    assert [p.name for p in tmp_path.iterdir()] == ["out.mkv"]


def test_streaming_reader_missing_file(tmp_path):
    with pytest.raises(VideoReadError, match="nope.avi: no such file"):
        VideoReader(tmp_path / "nope.avi")


# ---------------------------------------------------------------------------------------------
# Writes that fail, and OpenCV's own warnings


class _DroppingWriter:
    """A cv2.VideoWriter that drops every frame after the first ``keep``, silently, as OpenCV's
    does on a full disk (its write() returns nothing)."""

    def __init__(self, inner, keep: int):
        self.inner, self.keep, self.calls = inner, keep, 0

    def write(self, frame):
        self.calls += 1
        if self.calls <= self.keep:
            self.inner.write(frame)

    def release(self):
        self.inner.release()

    def isOpened(self):
        return self.inner.isOpened()


@pytest.mark.parametrize("streaming", [False, True])
def test_a_short_write_is_an_error_and_leaves_no_file(tmp_path, monkeypatch, streaming):
    import arsr.data.video as video
    from arsr.data.video import VideoWriteError, count_frames

    real = video._open_writer
    monkeypatch.setattr(video, "_open_writer",
                        lambda *a: (lambda w: w and _DroppingWriter(w, keep=2))(real(*a)))
    frames = _textured_clip(t=5, h=16, w=16)
    path = tmp_path / "clip.mkv"
    with pytest.raises(
        VideoWriteError, match=rf"{re.escape(str(path))}: only 2 of the 5 frames could be written \(.* free on "
    ):
        if streaming:
            with VideoWriter(path) as out:
                for frame in frames:
                    out.write(frame)
        else:
            write_video(path, frames)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(video, "_open_writer", real)
    write_video(path, frames)
    assert count_frames(path) == 5 and count_frames(tmp_path / "absent.mkv") == 0


def test_opencv_warnings_are_silenced_where_we_report_the_error(tmp_path, capfd):
    """OpenCV's `[ WARN...]` lines about a file it cannot open come before our own one-line error:
    the reader lowers OpenCV's log level while it opens, and restores it."""
    import cv2

    text = tmp_path / "README.md"
    text.write_text("# not a video\n" * 200)
    before = cv2.utils.logging.getLogLevel()
    with pytest.raises(VideoReadError, match="README.md: OpenCV/FFmpeg cannot open it"):
        read_video(text)
    assert "WARN" not in capfd.readouterr().err
    assert cv2.utils.logging.getLogLevel() == before
