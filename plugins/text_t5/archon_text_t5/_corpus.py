"""The bundled English corpus the default SentencePiece model is trained on.

The corpus is built deterministically by :func:`build_default_corpus` (and written to a file by
:func:`write_default_corpus` when a trainer needs one; it is derived data, so it is not shipped)
from three parts, all written for this project (nothing copied):

1. ``data/script_lines.txt``: hand-written sentences a talking-head presenter might say (news,
   weather, lessons, recipes, interviews, vlogs, numbers, punctuation, a few greetings in other
   scripts so common non-Latin characters get pieces of their own).
2. Canonical description JSON lines (the exact text the ``description`` tokenizer encodes;
   every other one as the escaped JSON string literal the prompt serializer embeds), drawn from the schema's typical values (:data:`archon_text_t5.VALUE_EXAMPLES`), so the JSON
   keys and punctuation become few tokens.
3. Natural-language sentences about the same random descriptions, and one line per schema key.

A slow test retrains the shipped model from this corpus and gets the same pieces.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archon_text_t5._schema import (
    DESCRIPTION_SCHEMA,
    STRING,
    VALUE_EXAMPLES,
    canonicalize_description,
)

__all__ = [
    "DATA_DIR",
    "SCRIPT_LINES_FILE",
    "random_description",
    "description_json",
    "description_sentence",
    "build_default_corpus",
    "write_default_corpus",
]

DATA_DIR = Path(__file__).parent / "data"
SCRIPT_LINES_FILE = DATA_DIR / "script_lines.txt"


def description_json(description: Mapping[str, Any]) -> str:
    """The canonical compact JSON text of a description (what the tokenizer encodes).

    Args:
        description: a description (validated and canonicalized here).

    Returns:
        ``json.dumps`` of the canonical dict with separators ``(",", ":")`` and
        ``ensure_ascii=True`` (non-ASCII as ``\\uXXXX`` escapes: pure ASCII text, which
        SentencePiece normalization leaves unchanged, so descriptions round-trip exactly).
    """
    return json.dumps(
        canonicalize_description(description), separators=(",", ":"), ensure_ascii=True
    )


def random_description(rng: random.Random) -> dict[str, Any]:
    """A random canonical description whose values come from ``VALUE_EXAMPLES``.

    Args:
        rng: the random source (``random.Random(seed)`` for reproducibility).

    Returns:
        A valid, canonical description dict.
    """

    def fill(node: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, kind in node.items():
            path = f"{prefix}{key}"
            if isinstance(kind, Mapping):
                out[key] = fill(kind, f"{path}.")
                continue
            choices = VALUE_EXAMPLES[path]
            if kind == STRING:
                out[key] = rng.choice(choices)
            else:
                out[key] = rng.sample(choices, rng.randint(1, min(3, len(choices))))
        return out

    return canonicalize_description(fill(DESCRIPTION_SCHEMA, ""))


def _words(value: str) -> str:
    return value.replace("_", " ")


def description_sentence(description: Mapping[str, Any]) -> str:
    """One English sentence summarizing a canonical description (corpus text).

    Args:
        description: a canonical description.

    Returns:
        e.g. "An adult male with short black hair, wearing a hoodie, is speaking in an office
        with bright light."
    """
    app, act, env = description["appearance"], description["action"], description["environment"]
    hair = " and ".join(_words(v) for v in app["hair_style"] + app["hair_color"])
    upper = " and ".join(_words(v) for v in app["clothing"]["upper_body"])
    emotion = " and ".join(_words(v) for v in act["emotion"])
    return (
        f"The person is a {_words(app['age_group'])} {_words(app['gender'])} with {hair} hair, "
        f"wearing {upper}, {_words(act['activity_type'])} with a {_words(act['expression'])} "
        f"and a {emotion} mood, in a {_words(env['scene_context'])} setting with "
        f"{_words(env['lighting_conditions'])} lighting."
    )


def _schema_key_lines() -> list[str]:
    lines: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, kind in node.items():
            lines.append(f"{prefix}{key} {_words(key)}")
            if isinstance(kind, Mapping):
                walk(kind, f"{prefix}{key}.")

    walk(DESCRIPTION_SCHEMA, "")
    return lines


def build_default_corpus(n_descriptions: int = 200, seed: int = 0) -> list[str]:
    """Build the bundled corpus, one line per entry.

    Args:
        n_descriptions: how many random descriptions (each gives a JSON line and a sentence).
        seed: random seed.

    Returns:
        The corpus lines (no trailing newlines).
    """
    rng = random.Random(seed)
    lines = [
        line.strip()
        for line in SCRIPT_LINES_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    lines += _schema_key_lines()
    for i in range(n_descriptions):
        desc = random_description(rng)
        text = description_json(desc)
        # Every other description as a JSON string literal too: the prompt serializer embeds
        # text payloads as escaped literals, so `\"` sequences deserve pieces of their own.
        lines.append(text if i % 2 == 0 else json.dumps(text))
        lines.append(description_sentence(desc))
    return lines


def write_default_corpus(path: Path) -> Path:
    """Write :func:`build_default_corpus` to ``path`` (UTF-8, one line each).

    Args:
        path: target file.

    Returns:
        The path written.
    """
    path.write_text("\n".join(build_default_corpus()) + "\n", encoding="utf-8")
    return path
