"""archon-paper: the Archon paper's content as a plugin.

Table G's 72 tasks (`archon72`), the named chains of Sec. 3.4 / Fig. 4 / Tab. 3, the editing
chains of Fig. 5, the evaluation Tables 1-3, the demo and the CPU reference recipe, all through
the framework's public hooks (`_plugin.py`).
"""

from archon_paper._chains import (
    ANIMATION_TO_VIDEO,
    CHAINS,
    DESCRIPTION_TO_SPEECH,
    EDIT_DESCRIPTION,
    EDIT_SCRIPT,
    EDITING_CHAINS,
    IMAGE_TO_SPEECH,
    IMAGE_TO_SPEECH_THINKING,
    REENACT,
    SEMANTIC_TO_ALL,
    SPEECH_TO_ALL,
    SPEECH_TO_VIDEO,
    SPEECH_TO_VIDEO_DIRECT,
    TEXT_TO_ALL,
    VIDEO_TO_ALL,
)
from archon_paper._demo import DEMO, EVAL_TASKS, RECIPES
from archon_paper._suites import TABLE_G, archon72
from archon_paper._tables import CONTROL_CHAINS, CONTROL_METRICS, EVAL_DEFAULTS, TABLE1, TABLE2, TABLE3, TABLES

__all__ = [
    "ANIMATION_TO_VIDEO",
    "CHAINS",
    "CONTROL_CHAINS",
    "CONTROL_METRICS",
    "DEMO",
    "DESCRIPTION_TO_SPEECH",
    "EDITING_CHAINS",
    "EDIT_DESCRIPTION",
    "EDIT_SCRIPT",
    "EVAL_DEFAULTS",
    "EVAL_TASKS",
    "IMAGE_TO_SPEECH",
    "IMAGE_TO_SPEECH_THINKING",
    "RECIPES",
    "REENACT",
    "SEMANTIC_TO_ALL",
    "SPEECH_TO_ALL",
    "SPEECH_TO_VIDEO",
    "SPEECH_TO_VIDEO_DIRECT",
    "TABLE1",
    "TABLE2",
    "TABLE3",
    "TABLES",
    "TABLE_G",
    "TEXT_TO_ALL",
    "VIDEO_TO_ALL",
    "archon72",
]
