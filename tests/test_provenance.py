"""Provenance: the DWT-DCT watermark, the signing identity, C2PA credentials per container, and
`verify_file`'s named results for generated, altered, tampered, unsigned and unsupported files."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ArchonError, ConfigError
from archon_framework.provenance import (
    ARCHON_PAYLOAD,
    CredentialSigner,
    detect_watermark,
    embed_watermark,
    ensure_dev_identity,
    payload_bits,
    sidecar_path,
    signing_identity,
    verify_file,
)

RECORD = {"checkpoint": "runs/lm", "checkpoint_step": 7, "chain": "speech-to-video"}


@pytest.fixture(scope="module", autouse=True)
def identity_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("identity")
        mp.setenv("ARCHON_PROVENANCE_DIR", str(folder))
        for var in ("ARCHON_C2PA_CERT", "ARCHON_C2PA_KEY", "ARCHON_C2PA_TRUST", "ARCHON_C2PA_ALG", "ARCHON_C2PA_TSA"):
            mp.delenv(var, raising=False)
        yield folder


@pytest.fixture(scope="module")
def signer(identity_dir):
    return CredentialSigner()


def head(seed: int, size: int = 128) -> np.ndarray:
    """A smooth synthetic face-like picture: flat background, a shaded ellipse, a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(40, 200, 3)
    face = ((x - 0.5) / 0.3) ** 2 + ((y - 0.5) / 0.4) ** 2 < 1
    img = np.where(face[..., None], base[None, None] + 40 * (x[..., None] - 0.5), base[::-1][None, None])
    return np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def encode(img: np.ndarray, fmt: str, **kw) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **kw)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# ---------------------------------------------------------------------- watermark
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 3))
def test_watermark_is_read_back_exactly_and_costs_little(seed, frames):
    value = np.stack([head(seed + i, 96) for i in range(frames)]) if frames > 1 else head(seed, 96)
    marked = embed_watermark(value)
    assert marked.shape == value.shape and marked.dtype == np.uint8
    assert psnr(value, marked) > 35.0
    found = detect_watermark(marked, search=False)
    assert found.detected and found.matched == 64
    assert not detect_watermark(marked, payload_bits("someone else"), search=False).detected


def test_watermark_survives_jpeg_crop_and_half_size_but_not_on_unmarked():
    from PIL import Image

    img = head(3, 160)
    marked = embed_watermark(img)
    assert detect_watermark(decode(encode(marked, "JPEG", quality=75))).detected
    crop = marked[16:-13, 13:-16]  # 10% off, block grid no longer aligned
    assert detect_watermark(crop).detected
    half = np.asarray(Image.fromarray(marked).resize((80, 80), Image.BILINEAR))
    assert detect_watermark(half).detected
    for unmarked in (img, decode(encode(img, "JPEG", quality=75)), img[16:-13, 13:-16]):
        reading = detect_watermark(unmarked)
        assert not reading.detected and reading.matched < 54


def test_small_frames_are_left_alone_and_bad_values_refused():
    tiny = head(0, 32)
    np.testing.assert_array_equal(embed_watermark(tiny), tiny)
    assert not detect_watermark(tiny).detected
    with pytest.raises(ValueError, match="uint8"):
        embed_watermark(np.zeros((64, 64, 3), np.float32))
    assert payload_bits("archon-framework/watermark/v1").tolist() == ARCHON_PAYLOAD.tolist()


# ---------------------------------------------------------------------- identity
def test_development_identity_is_made_once_with_a_private_key(identity_dir):
    ensure_dev_identity()
    key = identity_dir / "dev-signer.key"
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    first = key.read_bytes()
    ensure_dev_identity()
    assert key.read_bytes() == first and signing_identity().source == "development"
    assert signing_identity().cert_chain.count(b"BEGIN CERTIFICATE") == 2  # signer, then the root


def test_organisation_identity_comes_from_the_environment(identity_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHON_C2PA_CERT", str(identity_dir / "dev-signer.pem"))
    with pytest.raises(ConfigError, match="both ARCHON_C2PA_CERT and ARCHON_C2PA_KEY"):
        signing_identity()
    monkeypatch.setenv("ARCHON_C2PA_KEY", str(tmp_path / "absent.key"))
    with pytest.raises(ConfigError, match="absent.key"):
        signing_identity()
    monkeypatch.setenv("ARCHON_C2PA_KEY", str(identity_dir / "dev-signer.key"))
    assert signing_identity().source == str(identity_dir / "dev-signer.pem")
    monkeypatch.setenv("ARCHON_C2PA_ALG", "md5")
    with pytest.raises(ConfigError, match="ARCHON_C2PA_ALG"):
        signing_identity()
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    monkeypatch.setenv("ARCHON_C2PA_ALG", "es256")
    monkeypatch.setenv("ARCHON_C2PA_CERT", str(bad))
    with pytest.raises(ArchonError, match="bad.pem"):
        CredentialSigner()


# ---------------------------------------------------------------------- credentials and verify
def _media(tmp_path) -> dict[str, bytes]:
    import imageio.v2 as imageio
    import soundfile as sf

    frames = np.stack([embed_watermark(head(i, 96)) for i in range(4)])
    wav = io.BytesIO()
    sf.write(wav, np.sin(np.arange(1600) / 5).astype(np.float32) * 0.3, 16000, format="WAV", subtype="PCM_16")
    imageio.mimwrite(tmp_path / "src.mp4", list(frames), fps=10, codec="libx264", macro_block_size=1, ffmpeg_log_level="error")
    gif = io.BytesIO()
    from PIL import Image

    Image.fromarray(frames[0]).save(gif, format="GIF", save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]])
    buf = io.BytesIO()
    np.savez(buf, value=frames[0])
    return {"image.png": encode(frames[0], "PNG"), "video.mp4": (tmp_path / "src.mp4").read_bytes(),
            "video.gif": gif.getvalue(), "speech.wav": wav.getvalue(), "description.json": b'{"emotion": "calm"}',
            "script.txt": "hello".encode(), "identity.npz": buf.getvalue()}


def test_every_container_is_signed_and_verified_and_an_edit_is_reported(signer, tmp_path):
    for name, data in _media(tmp_path).items():
        path = tmp_path / name
        path.write_bytes(data)
        held = signer.sign(path, RECORD)
        assert held == (path if path.suffix in (".png", ".mp4", ".gif", ".wav") else sidecar_path(path))
        r = verify_file(path)
        assert (r.status, r.generated_by_archon, r.altered, r.checkpoint, r.step, r.trusted) == \
            ("generated", True, False, "runs/lm", 7, True), (name, r)
        if path.suffix in (".png", ".mp4", ".gif"):
            assert r.watermark is not None and r.watermark.detected, name
        raw = bytearray(path.read_bytes())  # an edit of the content after signing
        if path.suffix in (".png", ".gif", ".mp4"):
            at = raw.find(b"IDAT") + 12 if path.suffix == ".png" else raw.find(b"mdat") + 40 if path.suffix == ".mp4" else len(raw) // 3
        else:
            at = 10 if path.suffix == ".wav" else 0
        raw[at] ^= 0x5A
        path.write_bytes(bytes(raw))
        r = verify_file(path)
        assert r.status in ("altered", "unreadable") and r.altered is not False, (name, r)
        if path.suffix != ".gif":  # a flipped LZW byte can make the GIF undecodable: still a named result
            assert r.status == "altered", (name, r)


def test_tampered_missing_unsigned_and_unsupported_files_get_named_results(signer, tmp_path):
    media = _media(tmp_path)
    png = tmp_path / "image.png"
    png.write_bytes(media["image.png"])
    assert verify_file(png).status == "no-manifest"
    signer.sign(png, RECORD)
    raw = bytearray(png.read_bytes())
    i = raw.find(b"org.archon.generation")
    raw[i + 40] ^= 0x01
    png.write_bytes(bytes(raw))
    assert verify_file(png).status == "tampered-manifest"
    js = tmp_path / "description.json"
    js.write_bytes(media["description.json"])
    assert verify_file(js).status == "no-manifest"
    signer.sign(js, RECORD)
    sidecar_path(js).write_bytes(b"\x00garbage")
    assert verify_file(js).status == "tampered-manifest"
    other = tmp_path / "clip.xyz"
    other.write_bytes(b"whatever")
    r = verify_file(other)
    assert (r.status, r.generated_by_archon, r.altered) == ("unsupported", None, None)
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is no png")
    r = verify_file(fake)
    assert r.status in ("unreadable", "no-manifest") and r.generated_by_archon is not True
    assert verify_file(tmp_path / "absent.mp4").status == "missing"


def test_a_reencoded_copy_keeps_the_watermark_but_loses_the_credentials(signer, tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(encode(embed_watermark(head(5, 128)), "PNG"))
    signer.sign(png, RECORD)
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(encode(decode(png.read_bytes()), "JPEG", quality=80))
    r = verify_file(copy)
    assert (r.status, r.generated_by_archon, r.altered) == ("no-manifest", True, True)
    plain = tmp_path / "plain.png"
    plain.write_bytes(encode(head(5, 128), "PNG"))
    r = verify_file(plain)
    assert (r.status, r.generated_by_archon, r.altered) == ("no-manifest", False, None)


def test_untrusted_signer_and_another_generator(signer, tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(encode(head(1, 64), "PNG"))
    signer.sign(png, RECORD)
    r = verify_file(png, anchors="")
    assert r.status == "generated" and r.trusted is False

    class Other(CredentialSigner):
        def manifest(self, path, mime, generation):
            m = super().manifest(path, mime, generation)
            return {**m, "claim_generator_info": [{"name": "someone-else", "version": "1"}],
                    "assertions": m["assertions"][:1]}

    other = tmp_path / "other.png"
    other.write_bytes(encode(head(2, 64), "PNG"))
    Other(signer.identity).sign(other, RECORD)
    r = verify_file(other)
    assert (r.status, r.generated_by_archon, r.checkpoint) == ("other-generator", False, None)


def test_the_public_subpackage_exports_what_it_lists():
    import archon_framework.provenance as provenance

    for name in provenance.__all__:
        assert hasattr(provenance, name), name
