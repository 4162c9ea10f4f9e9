"""Embedding rows started from the tokenizers' code vectors (`ModelSection.embed_init = "codebook"`)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ClipMeta, ConfigError, Modality, PluginError, RawSpec, Slot, Task, TaskSuite, Vocabulary
from archon_framework._codec import tokenizer_capabilities, validated_code_vectors
from archon_framework.model import CodeVectors, PrefixLM, PrefixLMConfig, codebook_rows, embed_code_vectors
from archon_framework.model import FactorizedRange
from archon_framework.testing import ConformanceError, check_tokenizer, make_registry
from archon_framework.train import DataConfig, ModelSection, OptimConfig, TrainConfig, Trainer

from core_toys import ArrayTokenizer, SuitePlugin, ToyPlugin, array_modality
from test_examples import clips


class VectorTokenizer(ArrayTokenizer):
    """The toy quantizer with code vectors: bin i of [0, 1) stands for its centre, (i + 0.5) / size."""

    def __init__(self, vocab: Vocabulary, rows: np.ndarray | None = None) -> None:
        super().__init__(vocab)
        self.rows = rows

    def code_vectors(self):
        if self.rows is not None:
            return self.rows
        centre = (np.arange(self.vocabulary.size) + 0.5) / self.vocabulary.size
        return np.stack([centre, np.cos(3 * centre)], axis=1)


def vector_modality(name: str, size: int, rows: np.ndarray | None = None) -> Modality:
    vocab = Vocabulary(name, size)
    return Modality(name=name, vocabulary=vocab, temporal=True, phrase=f"{name} signal",
                    raw=RawSpec(kind="array", dtype="float32", shape=("frames", 2), value_range=(0.0, 1.0)),
                    num_tokens=lambda meta: 2 * meta.frames, tokenizer=lambda path: VectorTokenizer(vocab, rows))


def tiny(vocab: int = 64, factorized=()) -> PrefixLM:
    config = PrefixLMConfig(vocab_size=vocab, d_model=32, n_layers=1, n_heads=2, d_ff=64, max_seq_len=32,
                            factorized=factorized)
    return PrefixLM(config, key=jax.random.key(0))


@settings(max_examples=25, deadline=None)
@given(levels=st.integers(1, 4), width=st.integers(2, 16), dim=st.integers(1, 6), seed=st.integers(0, 2**16),
       scale=st.floats(0.01, 100.0))
def test_rows_have_unit_variance_and_ignore_each_levels_offset_and_scale(levels, width, dim, seed, scale):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(levels * width, dim))
    rows = codebook_rows(v, d_model=24, block=width, rng=np.random.default_rng(1))
    assert rows.shape == (levels * width, 24) and rows.dtype == np.float32
    if np.ptp(v, axis=0).max() > 1e-6:
        assert rows.std() == pytest.approx(1.0, rel=1e-4)
    moved = v.reshape(levels, width, dim) * scale + rng.normal(size=(levels, 1, dim))  # per level: shift and scale
    again = codebook_rows(moved.reshape(-1, dim), d_model=24, block=width, rng=np.random.default_rng(1))
    np.testing.assert_allclose(again, rows, rtol=1e-3, atol=1e-3)


def test_codes_alike_in_the_tokenizer_start_alike():
    """Close code vectors give close rows, far ones far rows; equal vectors give equal rows."""
    centre = np.linspace(0, 1, 32)[:, None]
    v = np.concatenate([centre, centre ** 2], axis=1)
    v[5] = v[4]
    rows = codebook_rows(v, d_model=64, block=None, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(rows[4], rows[5])
    near, far = np.linalg.norm(rows[10] - rows[11]), np.linalg.norm(rows[10] - rows[30])
    assert near < 0.3 * far


def test_only_the_tables_rows_change_and_share_mixes_them():
    model = tiny()
    v = np.random.default_rng(0).normal(size=(16, 3))
    table = CodeVectors("speech", 20, v, block=8)
    full = embed_code_vectors(model, [table], share=1.0, seed=7)
    before, after = np.asarray(model.embedding), np.asarray(full.embedding)
    np.testing.assert_array_equal(after[:20], before[:20])
    np.testing.assert_array_equal(after[36:], before[36:])
    want = codebook_rows(v, d_model=32, block=8, rng=np.random.default_rng([7, 20]))
    np.testing.assert_allclose(after[20:36], want, rtol=1e-6)
    half = np.asarray(embed_code_vectors(model, [table], share=0.5, seed=7).embedding)
    np.testing.assert_allclose(half[20:36], np.sqrt(0.5) * want + np.sqrt(0.5) * before[20:36], rtol=1e-5, atol=1e-6)
    assert embed_code_vectors(model, [], share=0.5, seed=7) is model


def test_bad_tables_are_refused_by_modality():
    model = tiny(vocab=64, factorized=(FactorizedRange(vocabulary="image", start=32, size=32, factor=4),))
    with pytest.raises(ConfigError, match=r"modality 'image': its range is factorized"):
        embed_code_vectors(model, [CodeVectors("image", 32, np.ones((32, 2)))], share=0.5, seed=0)
    with pytest.raises(ConfigError, match=r"modality 'speech': ids \[20, 36\) exceed the vocabulary of 32"):
        embed_code_vectors(tiny(vocab=32), [CodeVectors("speech", 20, np.ones((16, 2)))], share=0.5, seed=0)
    with pytest.raises(ConfigError, match=r"codebook_share must lie in \(0, 1\]"):
        embed_code_vectors(tiny(), [CodeVectors("speech", 0, np.ones((16, 2)))], share=0.0, seed=0)
    with pytest.raises(ConfigError, match=r"16 rows are not whole blocks of 5"):
        embed_code_vectors(tiny(), [CodeVectors("speech", 0, np.ones((16, 2)), block=5)], share=0.5, seed=0)


@pytest.mark.parametrize("rows, match", [
    (np.ones((15, 2)), r"modality 'speech': code_vectors\(\) must be a numeric array \[vocabulary size, dim\] = \(16, dim >= 1\)"),
    (np.ones(16), r"got float64 \(16,\)"),
    (np.full((16, 2), np.nan), r"row 0 \(local id 0\) is not finite"),
])
def test_a_broken_code_vector_table_names_the_modality(rows, match):
    modality = vector_modality("speech", 16, rows)
    tokenizer = modality.tokenizer(None)
    assert tokenizer_capabilities(modality, tokenizer).vectors
    with pytest.raises(PluginError, match=match):
        validated_code_vectors("speech", tokenizer, 16)
    meta = ClipMeta(clip_id="c", duration=0.16, frame_rate=25.0, sample_rate=16000)  # 4 frames
    with pytest.raises(ConformanceError, match=match):
        check_tokenizer(modality, tokenizer, meta=meta, raw=np.full((4, 2), 0.3, np.float32))


SUITE = TaskSuite("vec", (Task((Slot("speech", "c"),), Slot("expression", "c")),))


def run_config(out, **model):
    return TrainConfig(out_dir=str(out), steps=2, log_every=1, model=ModelSection(**model),
                       optim=OptimConfig(peak_lr=3e-3, warmup_fraction=0.1),
                       data=DataConfig(suite="vec", seq_len=256, batch_size=2, packing_bins=2))


def test_the_trainer_starts_the_rows_of_modalities_with_code_vectors(tmp_path):
    registry = make_registry(("toy", ToyPlugin(vector_modality("speech", 16), array_modality("expression", 32))),
                             ("suite", SuitePlugin(SUITE)), with_byte_text=True)
    data = clips(4)
    plain = Trainer(run_config(tmp_path / "a"), registry, clips=data, progress=False)
    coded = Trainer(run_config(tmp_path / "b", embed_init="codebook", codebook_share=1.0), registry, clips=data,
                    progress=False)
    a, b = np.asarray(plain.init_model().embedding), np.asarray(coded.init_model().embedding)
    speech, expression = coded.layout.range("speech"), coded.layout.range("expression")
    rows = b[speech.start:speech.start + speech.size]
    want = codebook_rows(VectorTokenizer(Vocabulary("speech", 16)).code_vectors(), d_model=rows.shape[1], block=None,
                         rng=np.random.default_rng([0, speech.start]))
    np.testing.assert_allclose(rows, want, rtol=1e-4, atol=1e-6)
    outside = np.ones(a.shape[0], bool)
    outside[speech.start:speech.start + speech.size] = False
    np.testing.assert_array_equal(a[outside], b[outside])  # expression has no code vectors: unchanged
    assert expression.size == 32
    coded.train()  # trains from those rows


def test_bad_embed_init_settings_are_refused():
    from archon_framework.infer._demo import DemoConfig

    with pytest.raises(ConfigError, match="lm_embed_init must be one of 'normal', 'codebook', got 'codebooks'"):
        DemoConfig(lm_embed_init="codebooks")
    with pytest.raises(ValueError, match="embed_init"):
        ModelSection(embed_init="pretrained")
    with pytest.raises(ConfigError, match=r"model.codebook_share must lie in \(0, 1\], got 1.5"):
        ModelSection(codebook_share=1.5)
