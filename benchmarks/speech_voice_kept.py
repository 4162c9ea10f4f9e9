"""How much of a speaker's voice survives the speech tokens? The ceiling of a voice-keeping edit (issue 25).

An edit that keeps the clip's voice (``edit-script``: new words, the same speaker) can keep no
more of it than the speech tokenizer does: its new speech is decoded from tokens. This scores,
on held-out clips and by each installed voice proxy (archon-eval-metrics: GE2E speaker
similarity, cepstral cosine, median-F0 error in semitones; and MCD-DTW, for the tokens' overall
fidelity on the same clips), the speech of a window compared
with the clip's own speech and with another clip's (the same figure with the next held-out
clip in its place), as a paired difference with a 95% bootstrap interval:

* ``ground truth``: the clip's past half against its current half (two stretches of one
  speaker: what the proxy can tell at all, at this length);
* ``tokens``: the current half decoded from its own tokens (`encode` then `decode`) against the
  clip's current half (what the tokens keep of the voice);

Where ``tokens`` does not separate a clip from another clip, no model that writes speech
through that tokenizer can keep the voice by that proxy.

    .venv/bin/python benchmarks/speech_voice_kept.py --tokenizer cpu-reference --data runs/voice-probe/source/heldout
    .venv/bin/python benchmarks/speech_voice_kept.py --tokenizer runs/speech-small --data runs/voice-probe/source/heldout
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework import ArchonError, State, cut_clip, load_registry
from archon_framework.eval import heldout_clips, paired_interval
from archon_framework.infer import tokenizers_folder

PROXIES = ("voice_speaker_similarity", "voice_cepstral_cosine", "voice_pitch_error_semitones", "speech_mcd_dtw")


def speech_tokenizer(name: str, registry):
    """A speech tokenizer: a folder the plugin's factory loads, or a model's (shipped, exported or a recipe run)."""
    path = Path(name)
    if not (path.is_dir() and not (path / "tokenizers").is_dir()):
        path = tokenizers_folder(name) / "speech"
    return registry.modalities["speech"].tokenizer(path), path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", default="cpu-reference", help="a speech tokenizer folder or a shipped model's name")
    parser.add_argument("--data", type=Path, default=None, help="a stored held-out dataset")
    parser.add_argument("--heldout", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None, help="JSON report")
    args = parser.parse_args()

    registry = load_registry()
    tok, path = speech_tokenizer(args.tokenizer, registry)
    clips, source = heldout_clips(registry, n=args.heldout, data=args.data)
    past = [cut_clip(c, State.PAST, registry.modalities) for c in clips]
    cur = [cut_clip(c, State.CURRENT, registry.modalities) for c in clips]
    decoded = [tok.decode(tok.encode(c["speech"], meta=c.meta), meta=c.meta) for c in cur]
    rows: list[dict[str, Any]] = []
    for name in PROXIES:
        metric = registry.metrics.get(name)
        if metric is None:
            print(f"{name}: not installed, skipped")
            continue

        def score(a, b, meta, _fn=metric.fn) -> float:
            try:
                return float(_fn(a, b, meta=meta))
            except ArchonError:  # a proxy that finds no voice (silence): not scored
                return math.nan

        for label, first in (("ground truth (past half)", [p["speech"] for p in past]), ("tokens (decoded)", decoded)):
            own = [score(x, c["speech"], c.meta) for x, c in zip(first, cur)]
            other = [score(x, cur[(i + 1) % len(cur)]["speech"], cur[i].meta) for i, x in enumerate(first)]
            mean, lo, hi = paired_interval([a - b for a, b in zip(own, other)])
            rows.append({"proxy": name, "higher_is_better": metric.higher_is_better, "speech": label,
                         "own": float(np.nanmean(own)), "other": float(np.nanmean(other)), "difference": mean,
                         "ci": [lo, hi], "pairs": int(sum(math.isfinite(a - b) for a, b in zip(own, other)))})
    print(f"speech tokenizer {path}; {len(clips)} held-out clips of {source.get('source') or source.get('dataset')}, "
          f"current half ({cur[0].meta.duration:g} s) against the clip's own and the next clip's")
    print("| proxy | speech | own clip | other clip | difference [95% CI] | pairs |")
    print("|---|---|--:|--:|---|--:|")
    for r in rows:
        print(f"| {r['proxy']} | {r['speech']} | {r['own']:.3f} | {r['other']:.3f} | "
              f"{r['difference']:+.3f} [{r['ci'][0]:+.3f}, {r['ci'][1]:+.3f}] | {r['pairs']} |")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"tokenizer": str(path), "heldout": len(clips), "rows": rows}, indent=2,
                                       default=str) + "\n")


if __name__ == "__main__":
    main()
