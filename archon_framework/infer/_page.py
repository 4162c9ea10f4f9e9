"""The demo's HTML page and contact sheet: ground truth and each chain's outputs side by side."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework.config import atomic_write_bytes, atomic_write_text

__all__ = ["Column", "write_page", "write_contact_sheet"]


class Column:
    """One column of a clip's table: a title and, per modality, files plus a status line."""

    def __init__(self, title: str, folder: Path, cells: Mapping[str, tuple[list[str], str]]) -> None:
        self.title, self.folder, self.cells = title, folder, dict(cells)

    @classmethod
    def from_manifest(cls, title: str, folder: Path) -> Column:
        """A chain run written by `write_outputs` (conditions included, marked as given)."""
        manifest = json.loads((folder / "manifest.json").read_text())
        cells: dict[str, tuple[list[str], str]] = {}
        for c in manifest["conditions"]:
            cells[c["slot"].split("(")[0]] = (c["files"], "given")
        for s in manifest["steps"]:
            name = s["slot"].split("(")[0]
            if s["kind"] == "given":
                continue
            status = s["kind"] + (f", {s['tokens']} tokens" if s["tokens"] else "") + f", {s['seconds']:.1f} s"
            if not s["valid"]:
                status += ", invalid"
            if s["note"]:
                status += f" - {s['note']}"
            cells[name] = (s["files"], status)
        return cls(title, folder, cells)


def _cell(folder: Path, page_dir: Path, files: Sequence[str], status: str) -> str:
    parts = []
    by_ext = {Path(f).suffix: f for f in files}
    rel = lambda f: html.escape(str((folder / f).relative_to(page_dir)))  # noqa: E731
    if ".wav" in by_ext:
        parts.append(f'<audio controls src="{rel(by_ext[".wav"])}"></audio>')
    if ".gif" in by_ext:
        parts.append(f'<img src="{rel(by_ext[".gif"])}" width="160">')
    elif ".mp4" in by_ext:
        parts.append(f'<video controls loop width="160" src="{rel(by_ext[".mp4"])}"></video>')
    if ".png" in by_ext:
        parts.append(f'<img src="{rel(by_ext[".png"])}" width="160">')
    for ext in (".txt", ".json"):
        if ext in by_ext:
            text = (folder / by_ext[ext]).read_text(encoding="utf-8", errors="replace")
            short = text if len(text) <= 600 else text[:600] + " ..."
            parts.append(f"<pre>{html.escape(short)}</pre>")
    if ".npz" in by_ext and not parts:
        with np.load(folder / by_ext[".npz"]) as z:
            arr = z["value"]
        parts.append(f"<code>{arr.dtype} {list(arr.shape)}, mean {float(arr.mean()):.3f}, std {float(arr.std()):.3f}</code>")
    links = " ".join(f'<a href="{rel(f)}">{html.escape(Path(f).suffix[1:])}</a>' for f in files)
    return f"<td>{''.join(parts)}<div class=s>{html.escape(status)} {links}</div></td>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:6px;vertical-align:top;max-width:260px}
th{background:#f4f4f4}
pre{white-space:pre-wrap;font-size:11px;max-height:160px;overflow:auto;margin:0}
.s{font-size:11px;color:#666;margin-top:4px}
audio{width:220px}
"""


def write_page(path: Path, title: str, intro: str, sections: Sequence[tuple[str, Sequence[Column]]],
               modalities: Sequence[str], notes: Sequence[str] = (),
               stages: Sequence[Mapping[str, Any]] = ()) -> Path:
    """An HTML page: per section (a held-out clip) a table, modalities down, columns across.

    `stages` (dicts with stage, steps, min_steps, compile_s, train_s, below_min) become a table
    of how each training stage used its time; a stage below its minimum is marked in red.
    """
    page_dir = path.parent
    out = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{_CSS}</style>",
           f"<h1>{html.escape(title)}</h1><p>{intro}</p>"]
    if stages:
        out.append(_stages_table(stages))
    if notes:
        out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    for name, columns in sections:
        out.append(f"<h2>{html.escape(name)}</h2><table><tr><th>modality</th>"
                   + "".join(f"<th>{html.escape(c.title)}</th>" for c in columns) + "</tr>")
        for mod in modalities:
            if not any(mod in c.cells for c in columns):
                continue
            row = [f"<th>{html.escape(mod)}</th>"]
            for c in columns:
                files, status = c.cells.get(mod, ([], "-"))
                row.append(_cell(c.folder, page_dir, files, status))
            out.append("<tr>" + "".join(row) + "</tr>")
        out.append("</table>")
    atomic_write_text(path, "\n".join(out) + "\n")
    return path


def _stages_table(stages: Sequence[Mapping[str, Any]]) -> str:
    under = [st for st in stages if st.get("below_min")]
    head = (f"<p style='color:#b00020'><b>{len(under)} training stage(s) stopped below their minimum step count: "
            f"{html.escape(', '.join(str(st['stage']) for st in under))}. Their outputs come from an undertrained "
            "model.</b></p>") if under else ""
    red = ' style="color:#b00020"'
    rows = "".join(
        f"<tr{red if st.get('below_min') else ''}><td>{html.escape(str(st['stage']))}</td>"
        f"<td>{st.get('steps', '-')}</td><td>{st.get('min_steps', '-')}</td>"
        f"<td>{_secs(st.get('compile_s'))}</td><td>{_secs(st.get('train_s'))}</td>"
        f"<td>{'BELOW MINIMUM' if st.get('below_min') else 'ok'}</td></tr>"
        for st in stages)
    return (f"<h2>Training stages</h2>{head}<table><tr><th>stage</th><th>steps</th><th>minimum</th>"
            f"<th>compile s</th><th>training s</th><th></th></tr>{rows}</table>")


def _secs(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def _thumb(folder: Path, files: Sequence[str], size: int) -> Any:
    from PIL import Image

    for ext in (".gif", ".png"):
        for f in files:
            if f.endswith(ext):
                img = Image.open(folder / f)
                n = getattr(img, "n_frames", 1)
                img.seek(n // 2)
                return img.convert("RGB").resize((size, size))
    return None


def write_contact_sheet(path: Path, sections: Sequence[tuple[str, Sequence[Column]]],
                        modalities: Sequence[str] | None = None, size: int = 128) -> Path:
    """A PNG grid: per clip and column, the middle frame of each of `modalities`' outputs (a
    demo's ``DemoSpec.sheet``; None: every modality some cell shows as an image or GIF)."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    if not modalities:
        cells = [(col, mod, files) for _, cols in sections for col in cols for mod, (files, _) in col.cells.items()]
        modalities = list(dict.fromkeys(mod for col, mod, files in cells if _thumb(col.folder, files, 8) is not None))

    label_w, head_h = 150, 18
    rows = [(name, mod) for name, _ in sections for mod in modalities]
    ncols = max((len(cols) for _, cols in sections), default=1)
    sheet = Image.new("RGB", (label_w + ncols * (size + 4), head_h + len(rows) * (size + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    if sections:
        for j, col in enumerate(sections[0][1]):
            draw.text((label_w + j * (size + 4), 2), col.title[:22], fill="black")
    y = head_h
    for name, columns in sections:
        for mod in modalities:
            draw.text((4, y + size // 2 - 12), f"{name[-14:]}\n{mod}", fill="black")
            for j, col in enumerate(columns):
                files, _ = col.cells.get(mod, ([], ""))
                thumb = _thumb(col.folder, files, size)
                x = label_w + j * (size + 4)
                if thumb is not None:
                    sheet.paste(thumb, (x, y))
                else:
                    draw.rectangle((x, y, x + size - 1, y + size - 1), outline="#bbb")
                    draw.text((x + 6, y + size // 2 - 6), "-", fill="#999")
            y += size + 4
    buf = BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path
