"""The plugin's command line: ``archon heads preview-flame`` (mounted by the core through
``archon_commands()``; also usable on its own: ``python -m archon_synthetic_heads preview-flame``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archon_framework import ArchonError, DataError
from archon_synthetic_heads._contracts import FlameDims, FlameTokenizer, load_flame_npz
from archon_synthetic_heads._flame_preview import preview_flame_params

__all__ = ["make_app"]

_FLAME_MODALITIES = ("identity", "expression", "pose")


def make_app() -> typer.Typer:
    """A fresh ``typer.Typer(name="heads")`` holding the plugin's commands."""
    app = typer.Typer(name="heads", help="Synthetic talking-head tools.", no_args_is_help=True)

    @app.callback()
    def main() -> None:
        """Synthetic talking-head tools."""

    @app.command("preview-flame")
    def preview_flame_cmd(
        params: Annotated[Path, typer.Argument(help="An .npz with arrays shape, expression, pose.")],
        out: Annotated[Path, typer.Option("--out", help="The .gif (animated) or .png (strip) to write.")],
        tokenizers: Annotated[
            Path | None,
            typer.Option("--tokenizers", help="A directory with trained identity/, expression/, pose/ "
                         "FLAME tokenizers: also show the parameters decoded from their tokens."),
        ] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Draw a random person (default: a neutral one).")] = None,
        fps: Annotated[float, typer.Option("--fps", help="Frame rate of the parameters and the GIF.")] = 30.0,
        shape_dim: Annotated[int, typer.Option("--shape-dim", help="FlameDims.shape.")] = 100,
        expression_dim: Annotated[int, typer.Option("--expression-dim", help="FlameDims.expression.")] = 50,
    ) -> None:
        """Draw FLAME parameters as a semantic label video with this dataset's geometry."""
        try:
            flame = load_flame_npz(params, dims=FlameDims(shape=shape_dim, expression=expression_dim))
            toks = None
            if tokenizers is not None:
                toks = {m: FlameTokenizer.load(tokenizers / m) for m in _FLAME_MODALITIES if (tokenizers / m).is_dir()}
                if not toks:
                    raise DataError(f"{tokenizers}: no identity/, expression/ or pose/ tokenizer directory")
            path = preview_flame_params(flame, out, tokenizers=toks, seed=seed, fps=fps)
        except ArchonError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(code=2) from err
        typer.echo(f"wrote {path} ({len(flame.expression)} frames{', original | decoded' if toks else ''})")

    return app
