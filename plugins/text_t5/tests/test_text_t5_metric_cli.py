"""Description F1 metric (hand-computed answers), train-spm CLI, bundled corpus, plugin hooks."""

from __future__ import annotations

import copy

import pytest
from archon_framework import ClipMeta, DataError
from typer.testing import CliRunner

from archon_text_t5 import (
    DESCRIPTION_EXAMPLE,
    SentencePieceText,
    UnparsedDescription,
    canonicalize_description,
    description_f1,
    description_paths,
    flatten_description,
    make_app,
    train_spm,
)
from archon_text_t5 import build_default_corpus, write_default_corpus


@pytest.fixture
def truth() -> dict:
    return canonicalize_description(DESCRIPTION_EXAMPLE)


def test_perfect_prediction(truth):
    scores = description_f1(truth, truth)
    assert scores["f1"] == scores["precision"] == scores["recall"] == scores["micro_f1"] == 1.0


def test_known_answer(truth):
    pred = copy.deepcopy(truth)
    # accessories truth {watch, ring, bracelet}; predicted {watch, hat}: P 1/2, R 1/3, F1 0.4
    pred["appearance"]["clothing"]["accessories"] = ["watch", "hat"]
    # gender wrong: P = R = F1 = 0
    pred["appearance"]["gender"] = "female"
    scores = description_f1(pred, truth)
    per = scores["per_attribute"]
    acc = per["appearance.clothing.accessories"]
    assert acc["precision"] == pytest.approx(0.5) and acc["recall"] == pytest.approx(1 / 3)
    assert acc["f1"] == pytest.approx(0.4)
    assert per["appearance.gender"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    n = len(description_paths())
    assert scores["f1"] == pytest.approx((n - 2 + 0.4) / n)
    assert scores["precision"] == pytest.approx((n - 2 + 0.5) / n)
    total = sum(len(v) for v in flatten_description(truth).values())
    # micro: predicted pairs total-3+2-1+1 = total-1, hits total-3 (ring, bracelet, male lost)
    assert scores["micro_precision"] == pytest.approx((total - 3) / (total - 1))
    assert scores["micro_recall"] == pytest.approx((total - 3) / total)


def test_unparsed_prediction_scores_zero(truth):
    scores = description_f1(UnparsedDescription(text="{oops", error="not JSON"), truth)
    assert scores["f1"] == 0.0 and scores["micro_recall"] == 0.0


def test_partial_prediction_is_scored_on_what_it_has(truth):
    partial = {"appearance": {"gender": "Male", "hair_color": ["BLACK", "brown"]}}
    scores = description_f1(UnparsedDescription(text="", error="schema", value=partial), truth)
    per = scores["per_attribute"]
    assert per["appearance.gender"]["f1"] == 1.0  # values canonicalized before comparison
    assert per["appearance.hair_color"]["precision"] == 0.5
    assert per["environment.time_of_day"]["f1"] == 0.0


def test_metric_hook(truth):
    from archon_text_t5._plugin import archon_metrics

    (metric,) = archon_metrics()
    assert metric.modalities == ("description",) and metric.higher_is_better
    meta = ClipMeta(clip_id="c", duration=1.0, frame_rate=30, sample_rate=16000)
    out = metric.fn(truth, truth, meta=meta)
    assert out["f1"] == 1.0 and all(isinstance(v, float) for v in out.values())


def test_train_spm_cli(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(build_default_corpus(n_descriptions=4)[:120]) + "\n", encoding="utf-8")
    out = tmp_path / "tiny.model"
    result = CliRunner().invoke(make_app(), ["train-spm", "--corpus", str(corpus), "--vocab-size", "400",
                                             "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "400 pieces" in result.output
    codec = SentencePieceText(out, extra_ids=100)
    assert codec.vocabulary.size == 500 and codec.eos_id == 1 and codec.pad_id == 0
    ids = codec.encode_text("Hello, and welcome to the show!")
    assert codec.decode_text(ids) == "Hello, and welcome to the show!"
    assert codec.decode_text(codec.encode_text("日本語 ✓")) == "日本語 ✓"  # byte fallback


def test_train_spm_errors(tmp_path):
    result = CliRunner().invoke(make_app(), ["train-spm", "--corpus", str(tmp_path / "none.txt"),
                                             "--out", str(tmp_path / "x.model")])
    assert result.exit_code == 2 and "none.txt does not exist" in result.output
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("hello world\n")
    with pytest.raises(DataError, match="Vocabulary size too high"):
        train_spm(tiny, vocab_size=5000, out=tmp_path / "y.model")


def test_default_corpus_is_deterministic_and_covers_the_schema():
    lines = build_default_corpus()
    assert lines == build_default_corpus()
    assert 500 < len(lines) < 5000
    assert any('"hair_color"' in line for line in lines) and any('\\"' in line for line in lines)


def test_plugin_registers_modalities():
    from archon_framework.testing import make_registry

    from archon_text_t5 import _plugin

    registry = make_registry(("text_t5", _plugin))
    assert {"script", "description"} <= set(registry.modalities)
    codec = registry.text_codec()
    assert codec.eos_id == 1 and codec.decode_text(codec.encode_text('"modality": "script"')) == '"modality": "script"'
    names = [getattr(getattr(c, "info", None), "name", None) for c, _ in registry.commands]
    assert "text" in names


@pytest.mark.slow
def test_bundled_model_is_reproducible(tmp_path):
    from archon_text_t5 import DEFAULT_MODEL_FILE

    corpus = write_default_corpus(tmp_path / "corpus_en.txt")
    out = train_spm(corpus, vocab_size=1900, out=tmp_path / "re.model")
    fresh, shipped = SentencePieceText(out), SentencePieceText(DEFAULT_MODEL_FILE)
    assert [fresh.id_to_piece(i) for i in range(1900)] == [shipped.id_to_piece(i) for i in range(1900)]


def test_a_trained_sentencepiece_model_sizes_the_text_vocabulary(tmp_path):
    """`archon text train-spm` with another size: the registry's layout follows the artifacts
    (Modality.vocabulary_for), and both text modalities agree on it."""
    from archon_framework.testing import make_registry
    from archon_text_t5 import ScriptTokenizer, SentencePieceText
    from archon_text_t5 import _plugin as text_plugin

    corpus = write_default_corpus(tmp_path / "corpus_en.txt")
    model = train_spm(corpus, vocab_size=600, out=tmp_path / "small.model")
    tok = ScriptTokenizer(SentencePieceText(model), max_tokens=64)
    for name in ("script", "description"):
        tok.save(tmp_path / "artifacts" / name)
    registry = make_registry(("text_t5", text_plugin))
    sized = registry.for_artifacts(tmp_path / "artifacts")
    assert sized.modality("script").vocabulary == sized.modality("description").vocabulary == tok.vocabulary
    assert tok.vocabulary.size == 600 + tok.codec.extra_ids != registry.modality("script").vocabulary.size
    assert sized.tokenizer("script", tmp_path / "artifacts").vocabulary == tok.vocabulary
