"""check_edits: an editing chain over held-out clips, each figure beside its control (the same
figure with another clip in the clip's place). Mechanics on a tiny untrained model with toy
metrics; the lead measures the script edit's real figures on the trained model."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from archon_framework import DataError, Metric
from archon_framework.eval import paired_interval
from archon_framework.infer import EditCheck, check_edits
from test_edit_measures import CHECKED, TOY_METRICS, model  # noqa: F401 (the fixture)
from test_infer_kit import toy_clip


def _same_script(prediction, reference, *, meta):
    return float(prediction["script"] == reference["script"])


SCRIPTED = attrs.evolve(CHECKED, name="toy-edit-script-summary", checks=(
    EditCheck("script_is_edit", "toy_same_script", "edit"),
    EditCheck("script_is_clip", "toy_same_script", "clip"),
    EditCheck("voice", "toy_voice_cosine", "clip"),
    EditCheck("broken", "toy_broken", "clip"),
))


def test_check_edits_averages_each_figure_beside_its_control(model):  # noqa: F811
    metrics = {**TOY_METRICS, "toy_same_script": Metric(name="toy_same_script", modalities=("speech", "script"),
                                                        fn=_same_script, higher_is_better=True)}
    scored = type(model)(model.lm, attrs.evolve(model.registry, metrics=metrics), model.layout, model.suite, source="toy")
    clips = [toy_clip(i) for i in (3, 4, 5)]
    seen = []
    report = check_edits(scored, clips, SCRIPTED, on_clip=lambda i, r: seen.append((i, r.result.conditions)))
    assert report["chain"] == SCRIPTED.name and report["clips"] == 3 and [i for i, _ in seen] == [0, 1, 2]
    # The default edit is the next clip's script, and the control is the next clip: known answers.
    checks = report["checks"]
    assert checks["script_is_edit"]["mean"] == 1.0 and "control" not in checks["script_is_edit"]
    assert checks["script_is_clip"]["mean"] == 0.0 and checks["script_is_clip"]["control"]["mean"] == 1.0
    assert checks["script_is_clip"]["difference"] == {"mean": -1.0, "stderr": 0.0, "count": 3, "ci95": [-1.0, -1.0]}
    # The voice figure: each clip's value is the cosine of its new speech with its own speech.
    for (i, _), row in zip(seen, report["per_clip"]):
        assert row["clip"] == clips[i].clip_id and row["control_clip"] == clips[(i + 1) % 3].clip_id
    per = [r["checks"]["voice"]["value"] for r in report["per_clip"]]
    assert checks["voice"]["mean"] == pytest.approx(np.mean(per)) and checks["voice"]["count"] == 3
    voice = checks["voice"]["difference"]
    assert voice["count"] == 3 and voice["ci95"][0] <= voice["mean"] <= voice["ci95"][1]
    own = [r["checks"]["voice"]["value"] - r["controls"]["voice"] for r in report["per_clip"]]
    assert voice["ci95"] == list(paired_interval(own)[1:])  # the interval `archon eval`'s controls use
    assert checks["broken"] == {**checks["broken"], "mean": None, "count": 0}  # failed everywhere: no mean, said per clip
    assert report["per_clip"][0]["checks"]["broken"]["error"] == "ValueError: no model file"
    assert set(report["tokens_changed"]) == {"speech", "expression"}
    assert 0.0 <= report["tokens_changed"]["speech"]["mean"] <= 1.0


def test_check_edits_needs_two_clips_and_an_edit(model):  # noqa: F811
    with pytest.raises(DataError, match="1 clip\\(s\\); give two or more held-out clips"):
        check_edits(model, [toy_clip(1)], CHECKED)
    with pytest.raises(DataError, match="edits script, expression; pass edits="):  # no default for two edits
        check_edits(model, [toy_clip(1), toy_clip(2)], attrs.evolve(CHECKED, edits=("script", "expression")))
