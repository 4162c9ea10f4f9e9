"""Entry point of the archon-flame-rvq plugin: the identity, expression and pose modalities."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from archon_framework import ClipMeta, ConfigError, Modality, RawSpec, Vocabulary, hookimpl

from ._config import FLAME_MODALITIES, FlameTokenizerConfig, config_from_dict, shipped_config
from ._dims import DEFAULT_DIMS, FlameDims
from ._load import load_flame
from ._tokenizer import CONFIG_FILE, FlameTokenizer, num_tokens_for
from ._train import train_tokenizer

__all__ = ["archon_modalities", "flame_modalities", "make_tokenizer"]

_PHRASES = {
    "identity": "facial identity (FLAME shape)",
    "expression": "facial expression (FLAME)",
    "pose": "head pose",
}
_DESCRIPTIONS = {
    "identity": "FLAME shape coefficients, one vector per clip; RVQ-VAE tokens (Archon Sec. 3.1)",
    "expression": "FLAME expression coefficients per frame; causal 1-D conv RVQ-VAE, T -> T/4",
    "pose": "head rotation (axis-angle) + translation per frame; causal 1-D conv RVQ-VAE, T -> T/4",
}
_VARIANTS = {"main": "paper", "supplementary": "paper_supplementary"}
_DEFAULT_FRAME_RATE = 30.0


def _config(modality: str, variant: str, dims: FlameDims) -> FlameTokenizerConfig:
    """The CPU-sized (``small``) network with the codebooks of the chosen paper variant."""
    if variant not in _VARIANTS:
        raise ConfigError(f"archon_flame_rvq: unknown variant {variant!r}; choose one of {sorted(_VARIANTS)}")
    small = shipped_config("small", modality)
    paper = shipped_config(_VARIANTS[variant], modality)
    model = attrs.evolve(small.model, num_levels=paper.model.num_levels,
                         codebook_size=paper.model.codebook_size)
    return FlameTokenizerConfig(modality=modality, dims=dims, model=model, train=small.train,
                                token_order=small.token_order)


def make_tokenizer(
    modality: str, artifact_dir: Path | None = None, *, config: FlameTokenizerConfig | None = None,
    seed: int = 0,
) -> FlameTokenizer:
    """The tokenizer factory: load ``artifact_dir`` or build a seeded, untrained default.

    Raises:
        ConfigError: the saved tokenizer is for another modality.
    """
    if artifact_dir is not None:
        tok = FlameTokenizer.load(artifact_dir)
        if tok.config.modality != modality:
            raise ConfigError(
                f"{artifact_dir}: holds a {tok.config.modality!r} tokenizer, not {modality!r}"
            )
        return tok
    return FlameTokenizer.untrained(config or _config(modality, "main", DEFAULT_DIMS), seed=seed)


def _checked_factory(modality: str, vocabulary: Vocabulary, config: FlameTokenizerConfig):
    def factory(artifact_dir: Path | None = None) -> FlameTokenizer:
        tok = make_tokenizer(modality, artifact_dir, config=config)
        # The codebook size may differ from the default's (the layout follows it through
        # vocabulary_for); the level count may not: the token counts of a window depend on it.
        if tok.config.model.num_levels != config.model.num_levels:
            raise ConfigError(
                f"{artifact_dir}: the saved {modality} tokenizer has {tok.config.model.num_levels} levels "
                f"x {tok.config.model.codebook_size} codes; the installed modality declares "
                f"{config.model.num_levels} levels (vocabulary {vocabulary.size}): train with that many levels"
            )
        if tok.config.input_dim != config.input_dim:
            raise ConfigError(
                f"{artifact_dir}: the saved {modality} tokenizer takes {tok.config.input_dim} "
                f"dimensions; the installed modality declares {config.input_dim} (FlameDims)"
            )
        return tok

    return factory


def _vocabulary_for(modality: str):
    def vocabulary_for(artifact_dir: Path) -> Vocabulary:
        """The vocabulary of the tokenizer saved in ``artifact_dir`` (levels x codebook size),
        from its ``config.json`` alone (``Modality.vocabulary_for``)."""
        path = Path(artifact_dir) / CONFIG_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path}: cannot read the {modality} tokenizer config ({err})") from err
        return Vocabulary(modality, config_from_dict(data, source=str(path)).model.vocabulary_size)

    return vocabulary_for


#: Fields of the model config a trainer's ``options`` may change: the codebook size (the
#: layout follows it through ``vocabulary_for``). The level count may not change: the modality
#: declares it, and a window's token count depends on it.
TRAINER_OPTIONS = ("codebook_size",)


def with_options(config: FlameTokenizerConfig, options: Mapping[str, Any] | None) -> FlameTokenizerConfig:
    """``config`` with a trainer's ``options`` applied (``{"codebook_size": 256}``); anything
    else, or a value that is not an int >= 2, is a ConfigError naming the modality and key."""
    if not options:
        return config
    unknown = sorted(set(options) - set(TRAINER_OPTIONS))
    if unknown:
        raise ConfigError(
            f"{config.modality} tokenizer: unknown trainer option(s) {', '.join(unknown)} "
            f"(it takes: {', '.join(TRAINER_OPTIONS)}; the level count is the modality's, "
            f"{config.model.num_levels})"
        )
    size = options["codebook_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise ConfigError(f"{config.modality} tokenizer: option codebook_size must be an int >= 2, got {size!r}")
    return attrs.evolve(config, model=attrs.evolve(config.model, codebook_size=size))


def _trainer(modality: str, config: FlameTokenizerConfig):
    def train(source: Sequence[Any], *, out_dir: Path, steps: int | None = None,
              seconds: float | None = None, seed: int = 0, progress: bool = True,
              options: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        return train_tokenizer(with_options(config, options), source, out_dir=Path(out_dir), steps=steps,
                               seconds=seconds, seed=seed, progress=progress)

    return train


def flame_modalities(*, dims: FlameDims = DEFAULT_DIMS, variant: str = "main") -> list[Modality]:
    """The three modality declarations.

    Args:
        dims: FLAME sizes (shape 100 / expression 50 / pose 6 by default).
        variant: ``"main"``: codebooks of the paper's Sec. 3.1 (identity 8 x 512,
            expression 8 x 2048, pose 6 x 512; the plugin's default); ``"supplementary"``:
            supp. C.2 (identity 12 x 512, pose 12 x 512), which changes the vocabularies.
    """
    out = []
    for name in FLAME_MODALITIES:
        config = _config(name, variant, dims)
        vocab = Vocabulary(name, config.model.vocabulary_size)
        temporal = config.temporal
        shape = ("frames", config.input_dim) if temporal else (config.input_dim,)
        # At 30 fps: expression 30 / 4 x 8 = 60, pose 30 / 4 x 6 = 45 tokens per second.
        rate = config.model.num_levels * _DEFAULT_FRAME_RATE / config.model.time_factor if temporal else None
        out.append(
            Modality(
                name=name,
                vocabulary=vocab,
                temporal=temporal,
                phrase=_PHRASES[name],
                raw=RawSpec(kind="array", dtype="float32", shape=shape),
                num_tokens=functools.partial(_num_tokens, config),
                tokenizer=_checked_factory(name, vocab, config),
                tokens_per_second=rate,
                trainer=_trainer(name, config),
                load=functools.partial(load_flame, name, dims=dims),
                description=_DESCRIPTIONS[name],
                vocabulary_for=_vocabulary_for(name),
            )
        )
    return out


def _num_tokens(config: FlameTokenizerConfig, meta: ClipMeta) -> int:
    return num_tokens_for(config, meta.frames)


@hookimpl
def archon_modalities() -> list[Modality]:
    """identity, expression and pose, with the paper's main-text codebooks."""
    return flame_modalities()
