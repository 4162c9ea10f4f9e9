"""The plugin's command line: ``archon text train-spm`` (mounted by the core through
``archon_commands()``; also usable on its own: ``python -m archon_text_t5 train-spm``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from archon_framework import ArchonError

from archon_text_t5._config import DEFAULT_VOCAB_SIZE
from archon_text_t5._corpus import write_default_corpus
from archon_text_t5._spm import SentencePieceText, train_spm

__all__ = ["make_app"]


def make_app() -> typer.Typer:
    """A fresh ``typer.Typer(name="text")`` holding the plugin's commands."""
    app = typer.Typer(name="text", help="Text vocabulary (SentencePiece) tools.", no_args_is_help=True)

    @app.callback()
    def main() -> None:
        """Text vocabulary (SentencePiece) tools."""

    @app.command("train-spm")
    def train_spm_cmd(
        out: Annotated[Path, typer.Option("--out", help="The .model file to write.")],
        corpus: Annotated[
            list[Path] | None,
            typer.Option("--corpus", help="UTF-8 text file, one sentence per line (repeatable). "
                         "Default: the bundled corpus."),
        ] = None,
        vocab_size: Annotated[
            int, typer.Option("--vocab-size", help="Pieces, byte and control pieces included.")
        ] = DEFAULT_VOCAB_SIZE,
        byte_fallback: Annotated[
            bool, typer.Option("--byte-fallback/--no-byte-fallback", help="Unknown characters as UTF-8 bytes.")
        ] = True,
        model_type: Annotated[str, typer.Option("--model-type", help="unigram (T5's) or bpe.")] = "unigram",
    ) -> None:
        """Train a SentencePiece model (T5 layout: pad 0, eos 1, unk 2) for the text vocabulary."""
        try:
            files = corpus or [write_default_corpus(Path(tempfile.mkdtemp(prefix="archon-corpus-")) / "corpus_en.txt")]
            path = train_spm(files, vocab_size=vocab_size, out=out, byte_fallback=byte_fallback,
                             model_type=model_type)
            pieces = SentencePieceText(path, extra_ids=0).pieces
        except ArchonError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(code=2) from err
        typer.echo(f"wrote {path} ({pieces} pieces) from {', '.join(map(str, files))}")

    return app
