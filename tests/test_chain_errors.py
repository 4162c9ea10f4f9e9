"""Chain errors name the whole chain: its conditions and every output (issue 28, defect 6: an error
printed `{speech(c), image(t)} ->  needs`, the step list lost)."""

from __future__ import annotations

import pytest

from archon_framework import Slot, Task, TaskError, TaskSuite
from archon_framework.infer import Chain, plan_chain
from archon_framework.testing import make_registry
from archon_paper import SPEECH_TO_VIDEO

from core_toys import ToyPlugin, array_modality


def test_a_missing_condition_error_lists_every_output_of_the_chain():
    chain = SPEECH_TO_VIDEO
    mods = make_registry(("toy", ToyPlugin(*(array_modality(m, 8, temporal=m not in ("image", "identity", "description"))
                                            for m in ("speech", "image", "identity", "expression", "semantic",
                                                      "description"))))).modalities
    suite = TaskSuite("s", (Task((Slot("image", "t"),), Slot("identity", "t")),))
    with pytest.raises(TaskError) as err:
        plan_chain(chain, modalities=mods, suite=suite, given=[Slot("speech", "c")])
    text = str(err.value)
    assert "{speech(c), image(t)} -> [identity(t), expression(c), semantic(c), description(t), video(c)]" in text
    assert "needs condition(s) image(t)" in text


def test_a_chain_without_steps_is_refused_when_made():
    with pytest.raises(TaskError, match="has no steps"):
        Chain("empty", (Slot("speech", "c"),), ())
