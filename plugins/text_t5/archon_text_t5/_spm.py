"""The SentencePiece codec of the shared ``text`` vocabulary (T5's tokenizer family) and its
trainer.

The paper keeps its language model's own text tokenizer, T5's SentencePiece model (Sec. 3,
text ids 0..256127 in its unified vocabulary). :class:`SentencePieceText` loads *any*
SentencePiece model file, T5's ``spiece.model`` included, and appends T5's sentinel ids
``<extra_id_0..N-1>`` after the pieces exactly as T5 does: ``<extra_id_i>`` has local id
``pieces + N - 1 - i``.

Normalization (what ``decode_text(encode_text(t))`` returns, :meth:`normalize_text`): the
model's own normalizer; for the bundled model and T5's it is ``nmt_nfkc``: Unicode NFKC
(``"ﬁ"`` -> ``"fi"``, ``"①"`` -> ``"1"``, full-width -> ASCII), whitespace (spaces, tabs,
newlines) collapsed to single spaces and stripped at both ends, a few invisible characters
(e.g. U+200B) removed. With byte fallback every other UTF-8 character round-trips exactly.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import sentencepiece as spm
from archon_framework import ConfigError, DataError, RawValueError, Vocabulary, VocabError

__all__ = ["SentencePieceText", "train_spm", "check_text"]

TEXT_VOCABULARY = "text"
_EXTRA_ID = re.compile(r"<extra_id_(\d+)>")


def check_text(text: object, *, where: str) -> str:
    """Check that a raw text is valid UTF-8 without control characters.

    Args:
        text: a ``str``, or ``bytes`` holding UTF-8.
        where: prefix of error messages (modality, clip).

    Returns:
        The text as ``str``.

    Raises:
        RawValueError: not text, bytes that are not UTF-8, lone surrogates, or control
            characters other than tab, newline and carriage return.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise RawValueError(
                f"{where}: text is not valid UTF-8 (byte {err.start}: {bytes(text)[err.start:err.end]!r}); "
                "decode it with the right encoding first"
            ) from err
    if not isinstance(text, str):
        raise RawValueError(f"{where}: expected text (str), got {type(text).__name__}")
    for i, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if cat == "Cs":
            raise RawValueError(
                f"{where}: text is not valid UTF-8 (lone surrogate U+{ord(ch):04X} at character {i}, "
                "typically from bytes decoded with errors='surrogateescape')"
            )
        if cat == "Cc" and ch not in "\t\n\r":
            raise RawValueError(
                f"{where}: control character U+{ord(ch):04X} at character {i}; remove it"
            )
    return text


class SentencePieceText:
    """A SentencePiece model plus T5's extra ids as the ``text`` vocabulary (paper Sec. 3).

    Implements the core's ``TextCodec`` (``eos_id``, ``encode_text``, ``decode_text``,
    ``normalize_text``), the codec the prompt serializer uses for its structural keys.

    Args:
        model_file: a SentencePiece ``.model`` file.
        extra_ids: number of T5 sentinels appended after the pieces (T5: 100).

    Raises:
        DataError: the file is missing or not a SentencePiece model (the path is named).
    """

    def __init__(self, model_file: str | Path, *, extra_ids: int = 100) -> None:
        path = Path(model_file)
        if not path.is_file():
            raise DataError(
                f"SentencePiece model file {path} does not exist; fix `spm_model` in the text_t5 "
                "config or rebuild it with `archon text train-spm`"
            )
        if isinstance(extra_ids, bool) or not isinstance(extra_ids, int) or extra_ids < 0:
            raise ConfigError(f"extra_ids must be an int >= 0, got {extra_ids!r}")
        self.model_file = path
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.Load(str(path))
        except (RuntimeError, OSError) as err:
            raise DataError(
                f"SentencePiece model file {path} is corrupt or not a SentencePiece model ({err}); "
                "rebuild it with `archon text train-spm`"
            ) from err
        self.pieces = int(self._sp.GetPieceSize())
        self.extra_ids = extra_ids
        self._vocab = Vocabulary(TEXT_VOCABULARY, self.pieces + extra_ids)
        if self._sp.eos_id() < 0:
            raise DataError(f"SentencePiece model file {path} has no end-of-sequence piece (eos_id)")

    # ------------------------------------------------------------------ ids
    @property
    def vocabulary(self) -> Vocabulary:
        """``Vocabulary("text", pieces + extra_ids)``."""
        return self._vocab

    @property
    def eos_id(self) -> int:
        """Local id of end-of-sequence (1 for T5 and the bundled model)."""
        return int(self._sp.eos_id())

    @property
    def pad_id(self) -> int:
        """Local id of padding (0 for T5 and the bundled model; -1 if the model has none)."""
        return int(self._sp.pad_id())

    @property
    def unk_id(self) -> int:
        """Local id of the unknown piece."""
        return int(self._sp.unk_id())

    def extra_id(self, index: int) -> int:
        """Local id of ``<extra_id_{index}>`` (T5 order: ``<extra_id_0>`` is the last id)."""
        if not 0 <= index < self.extra_ids:
            raise VocabError(f"vocabulary 'text': no <extra_id_{index}> (there are {self.extra_ids})")
        return self.pieces + self.extra_ids - 1 - index

    def id_to_piece(self, local_id: int) -> str:
        """The piece (or ``<extra_id_i>``) of a local id."""
        self._check_ids(np.asarray([local_id]))
        if local_id >= self.pieces:
            return f"<extra_id_{self.pieces + self.extra_ids - 1 - local_id}>"
        return str(self._sp.IdToPiece(int(local_id)))

    def _check_ids(self, local_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(local_ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise VocabError(
                f"vocabulary 'text': expected a 1-D integer array of local ids, got {ids.dtype} {ids.shape}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self._vocab.size):
            bad = int(ids[(ids < 0) | (ids >= self._vocab.size)][0])
            raise VocabError(f"vocabulary 'text': local id {bad} outside 0..{self._vocab.size - 1}")
        return ids.astype(np.int64)

    # ------------------------------------------------------------------ TextCodec
    def encode_text(self, text: str) -> np.ndarray:
        """Text -> int32 [n] local ids (no end-of-sequence; literal ``<extra_id_i>`` text is
        encoded as ordinary characters, so no user text can forge a sentinel).

        Raises:
            RawValueError: ``text`` is not valid UTF-8 text (see :func:`check_text`; control
                characters are allowed here, the serializer escapes them).
        """
        if not isinstance(text, str):
            raise RawValueError(f"vocabulary 'text': expected str, got {type(text).__name__}")
        if any(unicodedata.category(ch) == "Cs" for ch in text):
            raise RawValueError("vocabulary 'text': text holds lone surrogates (not valid UTF-8)")
        return np.asarray(self._sp.EncodeAsIds(text), dtype=np.int32)  # [n]

    def decode_text(self, local_ids: np.ndarray) -> str:
        """Local ids -> text; control pieces (pad, eos) decode to nothing, extra ids to
        ``<extra_id_i>``.

        Raises:
            VocabError: an id outside ``0..vocabulary.size - 1``.
        """
        ids = self._check_ids(local_ids)
        out: list[str] = []
        run: list[int] = []
        for i in ids.tolist():
            if i < self.pieces:
                run.append(i)
                continue
            if run:
                out.append(self._sp.DecodeIds(run))
                run = []
            out.append(f"<extra_id_{self.pieces + self.extra_ids - 1 - i}>")
        if run:
            out.append(self._sp.DecodeIds(run))
        return "".join(out)

    def normalize_text(self, text: str) -> str:
        """The normalization a round trip applies: ``decode_text(encode_text(text))``."""
        return self.decode_text(self.encode_text(text))

    def normalize(self, text: str) -> str:
        """Alias of :meth:`normalize_text`."""
        return self.normalize_text(text)


def train_spm(
    corpus: str | Path | Iterable[str | Path],
    *,
    vocab_size: int,
    out: str | Path,
    byte_fallback: bool = True,
    model_type: str = "unigram",
) -> Path:
    """Train a SentencePiece model with T5's special-id layout (pad 0, eos 1, unk 2, no bos).

    Args:
        corpus: one or more UTF-8 text files, one sentence per line.
        vocab_size: number of pieces (control and byte pieces included, extra ids not).
        out: the ``.model`` file to write.
        byte_fallback: encode characters without a piece as UTF-8 byte pieces (recommended:
            every UTF-8 text then round-trips, no unknown pieces).
        model_type: ``"unigram"`` (T5's) or ``"bpe"``. Training reads every line, unshuffled,
            with one thread, so the result is reproducible.

    Returns:
        The path written.

    Raises:
        DataError: a corpus file is missing, or the corpus is too small for ``vocab_size``.
    """
    files = [Path(corpus)] if isinstance(corpus, (str, Path)) else [Path(c) for c in corpus]
    if not files:
        raise DataError("train-spm: no corpus file given")
    for f in files:
        if not f.is_file():
            raise DataError(f"train-spm: corpus file {f} does not exist")
    if vocab_size < 260 and byte_fallback:
        raise ConfigError(
            f"train-spm: vocab_size {vocab_size} is too small; byte fallback alone takes 256 pieces "
            "plus 3 control pieces"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "spm"
        try:
            spm.SentencePieceTrainer.Train(
                input=",".join(str(f) for f in files),
                model_prefix=str(prefix),
                vocab_size=vocab_size,
                model_type=model_type,
                byte_fallback=byte_fallback,
                character_coverage=1.0,
                pad_id=0,
                eos_id=1,
                unk_id=2,
                bos_id=-1,
                normalization_rule_name="nmt_nfkc",
                num_threads=1,
                shuffle_input_sentence=False,
                max_sentence_length=16384,
                minloglevel=2,
            )
        except RuntimeError as err:
            raise DataError(
                f"train-spm: sentencepiece refused to train on {', '.join(map(str, files))}: {err} "
                "(a smaller --vocab-size or a larger corpus fixes 'Vocabulary size too high')"
            ) from err
        shutil.copyfile(prefix.with_suffix(".model"), out)
    return out
