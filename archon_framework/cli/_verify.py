"""`archon verify FILE...`: the command-line side of provenance checks."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from archon_framework.provenance._records import ProvenanceStep
from archon_framework.provenance._verify import VerifyResult, verify_files

__all__ = ["run_verify", "result_rows"]

_COLOUR = {"generated": "green", "altered": "yellow", "tampered-manifest": "red", "no-manifest": "dim",
           "other-generator": "cyan", "unsupported": "dim", "unreadable": "red", "missing": "red"}


def _yes(x: bool | None) -> str:
    return "?" if x is None else "yes" if x else "no"


def result_rows(results: Iterable[VerifyResult]) -> list[dict]:
    """One JSON-able dict per verified file."""
    return [r.to_dict() for r in results]


def _print_table(console: Console, results: Sequence[VerifyResult]) -> None:
    table = Table(title="Provenance (archon verify)")
    for col in ("file", "status", "by archon", "checkpoint", "altered", "watermark", "signer", "detail"):
        table.add_column(col, overflow="fold")
    for r in results:
        checkpoint = "" if r.checkpoint is None else f"{r.checkpoint} @ step {r.step}"
        wm = "" if r.watermark is None else f"{'found' if r.watermark.detected else 'none'} ({r.watermark.matched}/64)"
        signer = "" if r.trusted is None else "trusted" if r.trusted else "untrusted"
        colour = _COLOUR[r.status]
        table.add_row(r.path, f"[{colour}]{r.status}[/]", _yes(r.generated_by_archon), checkpoint, _yes(r.altered),
                      wm, signer, r.detail + "".join(f"; {k}: {v}" for k, v in r.plugin_marks.items()))
    console.print(table)


def run_verify(paths: Sequence[Path], *, trust: Path | None, as_json: bool, watermark: bool,
               steps: Iterable[ProvenanceStep], console: Console) -> int:
    """Verify `paths`, print a table (or JSON on stdout); the exit status.

    Returns:
        0 when every file is `generated` (archon credentials, unaltered), else 1.
    """
    results = verify_files(paths, trust=trust, watermark=watermark, steps=steps)
    if as_json:
        sys.stdout.write(json.dumps(result_rows(results), indent=2, default=str) + "\n")
    else:
        _print_table(console, results)
    return 0 if results and all(r.status == "generated" for r in results) else 1
