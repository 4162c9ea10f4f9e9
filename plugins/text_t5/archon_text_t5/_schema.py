"""The description schema of the Archon paper (Sec. D.1, Fig. K and Fig. L), its validator and
its canonical form.

The schema is public data (:data:`DESCRIPTION_SCHEMA`): a read-only nested mapping whose leaves
are :data:`STRING` (one string) or :data:`STRING_LIST` (a list of strings) and whose inner nodes
are nested objects. The three top-level objects are ``appearance``, ``action`` and
``environment``.

Decisions where the paper is silent or contradicts itself (Fig. K is an example *output*, Fig. L
is the *prompt*, i.e. the schema; the schema below is the union of both):

* ``appearance.clothing.upper_body`` / ``lower_body``: Fig. L asks for a list, Fig. K shows a
  string. We follow Fig. L (the schema): **list of strings**. ``footwear`` (only in Fig. K) is a
  string, as Fig. K shows it.
* ``environment.scene_context`` (Fig. L and the text of Sec. D.1) is the key; Fig. K's
  ``context`` is accepted as an alias of it. Likewise Fig. L's ``Eye_brow_Action`` spelling is an
  alias of ``eyebrow_action``.
* ``eye_color``, ``eye_style`` and ``teeth`` (only in Fig. L) are lists of strings, as Fig. L
  asks. Fields of Fig. K that Fig. L elides with ``...`` take Fig. K's type.
* Descriptions are read **as a captioner writes them** (:class:`DescriptionPolicy`, set in the
  plugin config's ``[description]`` table): a single string where the schema lists strings is a
  one-item list (Fig. K's ``upper_body``), a one-item list where it wants a string is that
  string; a missing key (or ``null``) reads as ``"unknown"`` / ``["unknown"]``, the paper's own
  word for what is not discernible (``missing = "error"`` refuses it instead); an unknown key
  is dropped (``unknown_keys = "drop"``, the default: the LM sees one fixed key set), kept after
  the schema's keys in sorted order (``"keep"``), or refused (``"error"``). Every such reading
  is said in one :class:`archon_framework.DataWarning`; nothing is adjusted silently.
* Lists must not be empty and strings must not be blank (use ``"unknown"``/``"none"`` as the
  paper does).
* Every violation is reported, not only the first: the error lists them all with their paths.
* Keys are matched after key normalization (NFKC, lower-case, spaces and hyphens to
  underscores), so ``"Mouth Action"`` is ``mouth_action``; two keys that normalize to one are an
  error.

Canonical form (:func:`canonicalize_description`): keys in schema order (kept unknown keys
after them, sorted); each value string NFKC
normalized, stripped, lower-cased, with runs of whitespace replaced by one underscore (Fig. L:
"strings with underscores instead of space"); duplicate list items dropped (first occurrence
kept); list order otherwise kept, since it may carry salience (e.g. ``dominant_colors``). Equal
descriptions therefore give equal canonical JSON text and equal tokens, and the canonical form
is a fixed point (canonicalizing it again changes nothing).
"""

from __future__ import annotations

import functools
import os
import types
import unicodedata
import warnings
from collections.abc import Mapping
from typing import Any

import attrs
from archon_framework import DataWarning, RawValueError

from archon_text_t5._examples import DESCRIPTION_EXAMPLE, VALUE_EXAMPLES

__all__ = [
    "STRING",
    "STRING_LIST",
    "DESCRIPTION_SCHEMA",
    "DESCRIPTION_KEY_ALIASES",
    "DESCRIPTION_EXAMPLE",
    "VALUE_EXAMPLES",
    "DescriptionPolicy",
    "description_paths",
    "validate_description",
    "canonicalize_description",
]

STRING = "string"
"""Schema leaf: the field holds one string."""
STRING_LIST = "list_of_strings"
"""Schema leaf: the field holds a non-empty list of strings."""


def _freeze(tree: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(
        {k: _freeze(v) if isinstance(v, Mapping) else v for k, v in tree.items()}
    )


DESCRIPTION_SCHEMA: Mapping[str, Any] = _freeze(
    {
        "appearance": {
            "gender": STRING,
            "age_group": STRING,
            "ethnicity": STRING_LIST,
            "body_build": STRING_LIST,
            "hair_color": STRING_LIST,
            "hair_style": STRING_LIST,
            "eye_color": STRING_LIST,
            "eye_style": STRING_LIST,
            "teeth": STRING_LIST,
            "facial_features": STRING_LIST,
            "clothing": {
                "upper_body": STRING_LIST,
                "lower_body": STRING_LIST,
                "footwear": STRING,
                "accessories": STRING_LIST,
                "dominant_colors": STRING_LIST,
            },
            "physical_attributes": {
                "visible_tattoos": STRING,
                "visible_piercings": STRING,
                "distinctive_marks": STRING,
                "posture": STRING,
                "gait": STRING,
                "physical_aids": STRING_LIST,
            },
        },
        "action": {
            "activity_type": STRING,
            "expression": STRING,
            "overall_impression": STRING_LIST,
            "emotion": STRING_LIST,
            "energy_level": STRING_LIST,
            "mouth_action": STRING_LIST,
            "eyebrow_action": STRING_LIST,
            "blink_frequency": STRING,
            "head_action": STRING_LIST,
            "eye_state": STRING_LIST,
            "gaze_direction": STRING_LIST,
            "nonverbal_habits": STRING_LIST,
            "interactions": STRING_LIST,
            "props_used": STRING_LIST,
        },
        "environment": {
            "lighting_conditions": STRING,
            "background_description": STRING,
            "time_of_day": STRING,
            "weather_conditions": STRING,
            "scene_context": STRING,
        },
    }
)
"""The Fig. L schema (union with Fig. K's fields); see the module docstring for decisions."""

DESCRIPTION_KEY_ALIASES: Mapping[str, str] = types.MappingProxyType(
    {
        "context": "scene_context",  # Fig. K spelling
        "eye_brow_action": "eyebrow_action",  # Fig. L spelling ("Eye_brow_Action")
    }
)
"""Normalized alternative key spellings found in the paper -> schema key."""

_MISSING = ("unknown", "error")
_UNKNOWN_KEYS = ("drop", "keep", "error")


@attrs.frozen(kw_only=True)
class DescriptionPolicy:
    """How descriptions that stray from the schema are read (plugin config ``[description]``).

    Attributes:
        missing: ``"unknown"``: a missing key or ``null`` reads as ``"unknown"`` (``["unknown"]``
            for a list, every field of a missing object); ``"error"``: refused.
        unknown_keys: ``"drop"`` (default): a key the schema lacks is left out; ``"keep"``:
            kept, canonicalized, after the schema's keys in sorted order; ``"error"``: refused.
    """

    missing: str = attrs.field(default="unknown", validator=attrs.validators.in_(_MISSING))
    unknown_keys: str = attrs.field(default="drop", validator=attrs.validators.in_(_UNKNOWN_KEYS))


@functools.lru_cache(maxsize=4)
def _configured_policy(config_file: str) -> DescriptionPolicy:
    from archon_text_t5._config import load_text_config

    return load_text_config(config_file or None)[0].description


def _default_policy() -> DescriptionPolicy:
    """The policy of the installed plugin's config (``$ARCHON_TEXT_T5_CONFIG``, else defaults)."""
    from archon_text_t5._config import CONFIG_ENV

    return _configured_policy(os.environ.get(CONFIG_ENV, "").strip())


def description_paths() -> list[str]:
    """Dotted attribute paths of every schema leaf, in schema order.

    Returns:
        e.g. ``["appearance.gender", ..., "environment.scene_context"]``.
    """
    out: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, sub in node.items():
            if isinstance(sub, Mapping):
                walk(sub, f"{prefix}{key}.")
            else:
                out.append(f"{prefix}{key}")

    walk(DESCRIPTION_SCHEMA, "")
    return out


def _normalize_key(key: str) -> str:
    norm = unicodedata.normalize("NFKC", key).strip().lower()
    norm = "_".join(norm.replace("-", " ").split())
    return DESCRIPTION_KEY_ALIASES.get(norm, norm)


def _canonical_value(value: str) -> str:
    return "_".join(unicodedata.normalize("NFKC", value).lower().split())


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _unknown(kind: Any) -> Any:
    if isinstance(kind, Mapping):
        return {key: _unknown(sub) for key, sub in kind.items()}
    return "unknown" if kind == STRING else ["unknown"]


class _Reader:
    """One pass over a description: the canonical form, every violation, every reading said."""

    def __init__(self, policy: DescriptionPolicy) -> None:
        self.policy = policy
        self.errors: list[str] = []
        self.notes: list[str] = []

    def string(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.errors.append(f"{path}: expected a string, got {_type_name(value)}")
            return None
        for ch in value:
            if unicodedata.category(ch) in ("Cc", "Cs") and ch not in " \t\n\r":
                self.errors.append(f"{path}: control character U+{ord(ch):04X} in {value!r}; remove it")
                return None
        canonical = _canonical_value(value)
        if not canonical:
            self.errors.append(f'{path}: empty string; use "unknown" or "none"')
            return None
        return canonical

    def strings(self, value: Any, path: str) -> list[str] | None:
        if isinstance(value, str):  # Fig. K's "upper_body": "button-down_shirt_over_t-shirt"
            self.notes.append(f"{path}: a string read as a one-item list")
            value = [value]
        if not isinstance(value, (list, tuple)):
            self.errors.append(f"{path}: expected a list of strings, got {_type_name(value)}")
            return None
        if not value:
            self.errors.append(f'{path}: empty list; use ["unknown"] or ["none"]')
            return None
        items: list[str] = []
        for i, item in enumerate(value):
            canonical = self.string(item, f"{path}[{i}]")
            if canonical is not None and canonical not in items:
                items.append(canonical)
        return items

    def leaf(self, kind: str, value: Any, path: str) -> Any:
        if kind == STRING_LIST:
            return self.strings(value, path)
        if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], str):
            self.notes.append(f"{path}: a one-item list read as its string")
            value = value[0]
        return self.string(value, path)

    def free(self, value: Any, path: str) -> Any:
        """A kept unknown key's value: a string, a list of strings or an object of those."""
        if isinstance(value, Mapping):
            out = {}
            for raw in sorted(value, key=lambda k: _normalize_key(k) if isinstance(k, str) else ""):
                if not isinstance(raw, str):
                    self.errors.append(f"{path}: keys must be strings, got {_type_name(raw)}")
                    continue
                out[_normalize_key(raw)] = self.free(value[raw], f"{path}.{raw}")
            return out
        if isinstance(value, (list, tuple)):
            return self.strings(value, path)
        return self.string(value, path)

    def object(self, obj: Any, schema: Mapping[str, Any], path: str) -> dict[str, Any] | None:
        if not isinstance(obj, Mapping):
            self.errors.append(f"{path}: expected an object, got {_type_name(obj)}")
            return None
        resolved: dict[str, tuple[str, Any]] = {}
        extra: dict[str, Any] = {}
        for raw_key, value in obj.items():
            if not isinstance(raw_key, str):
                self.errors.append(f"{path}: keys must be strings, got {_type_name(raw_key)}")
                continue
            key = _normalize_key(raw_key)
            if key in resolved or key in extra:
                first = resolved[key][0] if key in resolved else key
                self.errors.append(f"{path}.{key}: given twice (as {first!r} and {raw_key!r})")
            elif key in schema:
                resolved[key] = (raw_key, value)
            elif self.policy.unknown_keys == "error":
                self.errors.append(f"{path}.{raw_key}: unknown key; allowed here: {', '.join(schema)}")
            elif self.policy.unknown_keys == "drop":
                self.notes.append(f"{path}.{raw_key}: unknown key dropped")
            else:
                self.notes.append(f"{path}.{raw_key}: unknown key kept")
                extra[key] = self.free(value, f"{path}.{raw_key}")
        out: dict[str, Any] = {}
        for key, kind in schema.items():  # schema order: the canonical key order
            sub_path = f"{path}.{key}"
            value = resolved[key][1] if key in resolved else None
            if value is None:
                if self.policy.missing == "error":
                    expected = "an object" if isinstance(kind, Mapping) else (
                        "a string" if kind == STRING else "a list of strings")
                    why = "missing key" if key not in resolved else "null"
                    self.errors.append(f"{sub_path}: {why} (expected {expected})")
                    continue
                self.notes.append(f"{sub_path}: {'missing' if key not in resolved else 'null'}, read as unknown")
                out[key] = _unknown(kind)
            elif isinstance(kind, Mapping):
                out[key] = self.object(value, kind, sub_path)
            else:
                out[key] = self.leaf(kind, value, sub_path)
        out.update(sorted(extra.items()))
        return out


def _read(obj: Any, where: str, policy: DescriptionPolicy | None) -> dict[str, Any]:
    reader = _Reader(policy if policy is not None else _default_policy())
    out = reader.object(obj, DESCRIPTION_SCHEMA, "description")
    if reader.errors:
        if len(reader.errors) == 1:
            raise RawValueError(f"{where}{reader.errors[0]}")
        raise RawValueError(f"{where}{len(reader.errors)} problems: " + "; ".join(reader.errors))
    if reader.notes:
        warnings.warn(f"{where}read as a captioner writes it: " + "; ".join(reader.notes), DataWarning, stacklevel=3)
    return out  # type: ignore[return-value]  # no error: every level was an object


def _where(meta: Any) -> str:
    clip_id = getattr(meta, "clip_id", None)
    return f"modality 'description' (clip {clip_id}): " if clip_id else ""


def canonicalize_description(obj: Any, *, policy: DescriptionPolicy | None = None) -> dict[str, Any]:
    """Return the canonical form of a description (validating it on the way).

    Args:
        obj: a Fig. K style description (nested dicts, strings, lists of strings).
        policy: how missing and unknown keys are read; None: the plugin config's.

    Returns:
        A new dict: keys in schema order, values NFKC-normalized, lower-case, whitespace runs
        replaced by ``_``, list duplicates dropped. Idempotent and deterministic: equal inputs
        give equal dicts and equal JSON text.

    Raises:
        RawValueError: as :func:`validate_description`.
    """
    return _read(obj, "", policy)


def validate_description(obj: Any, meta: Any = None, *, policy: DescriptionPolicy | None = None) -> dict[str, Any]:
    """Check a description against :data:`DESCRIPTION_SCHEMA` and return its canonical form.

    Usable as ``Modality.validate`` (``(value, meta) -> value``). What the policy reads
    leniently (a string for a list, a missing key, an unknown key) is said in one
    :class:`archon_framework.DataWarning`.

    Args:
        obj: the description to check.
        meta: optional ``ClipMeta``; its ``clip_id`` is named in errors.
        policy: how missing and unknown keys are read; None: the plugin config's.

    Returns:
        The canonical form (see :func:`canonicalize_description`).

    Raises:
        RawValueError: every violation, each with its JSON path (wrong type, empty list or
            string, a control character, a key given twice, and, as the policy says, missing
            or unknown keys), e.g.
            ``description.appearance.hair_color: expected a list of strings, got int``.
    """
    return _read(obj, _where(meta), policy)
