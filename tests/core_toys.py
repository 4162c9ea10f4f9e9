"""Small, real modalities and plugins the core tests register through pluggy."""

from __future__ import annotations

from archon_framework import Modality, RawSpec, Vocabulary, hookimpl


class ArrayTokenizer:
    """A real, tiny quantizer used by core tests: values in [0, 1) -> `size` uniform bins."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocabulary = vocab

    def encode(self, raw, *, meta):
        import numpy as np

        return np.clip((np.asarray(raw, dtype=np.float32).ravel() * self.vocabulary.size).astype(np.int32), 0, self.vocabulary.size - 1)

    def decode(self, local_ids, *, meta):
        import numpy as np

        from archon_framework import VocabError

        ids = np.asarray(local_ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocabulary.size):
            raise VocabError("out of range")
        return ((ids.astype(np.float32) + 0.5) / self.vocabulary.size).reshape(-1, 2)


def array_modality(name: str, size: int, *, temporal: bool = True, phrase: str | None = None) -> Modality:
    vocab = Vocabulary(name, size)
    shape = ("frames", 2) if temporal else (1, 2)
    return Modality(
        name=name, vocabulary=vocab, temporal=temporal, phrase=phrase or f"{name} signal",
        raw=RawSpec(kind="array", dtype="float32", shape=shape, value_range=(0.0, 1.0)),
        num_tokens=(lambda meta: 2 * meta.frames) if temporal else (lambda meta: 2),
        tokenizer=lambda path, vocab=vocab: ArrayTokenizer(vocab),
    )


class ToyPlugin:
    """Declares a few array modalities with the names of Table G's modalities."""

    def __init__(self, *modalities: Modality) -> None:
        self.mods = list(modalities)

    @hookimpl
    def archon_modalities(self):
        return self.mods


class SuitePlugin:
    """Contributes the given task suites."""

    def __init__(self, *suites) -> None:
        self.suites = list(suites)

    @hookimpl
    def archon_task_suites(self):
        return self.suites
