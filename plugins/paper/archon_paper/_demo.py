"""The paper's demo (`archon demo`): its chains on held-out synthetic clips, and its CPU recipe."""

from __future__ import annotations

from importlib import resources

from archon_framework import DemoSpec, RecipeFile

__all__ = ["DEMO", "EVAL_TASKS", "RECIPES"]

#: Table G tasks the demo trains beyond its chains' steps: those of `archon eval`'s
#: image-conditioned text-to-speech rows (paper Table 2), so a demo checkpoint can be evaluated.
EVAL_TASKS = ("script(c)+image(t)->speech(c)", "script(c)+identity(t)->speech(c)")

#: The demo: text-to-all (description + script) and speech-to-video with thinking and without,
#: on the embedded synthetic talking heads, the LM trained on Table G's tasks these chains use.
DEMO = DemoSpec(
    name="archon-paper",
    chains=(
        ("text-to-all", ("description", "script"), "text-to-all"),
        ("speech-to-video", ("speech", "image"), "speech-to-video (thinking)"),
        ("speech-to-video-direct", ("speech", "image"), "speech-to-video (direct)"),
    ),
    suite="archon72",
    eval_tasks=EVAL_TASKS,
    dataset="synthetic_heads",
    heldout_dataset="synthetic_heads_test",
    rows=("description", "script", "speech", "image", "identity", "expression", "pose", "semantic", "video"),
    sheet=("image", "semantic", "video"),
    model="cpu-reference",
    greedy_for=("description",),  # its JSON breaks on one sampled token; the rest is sampled
)


def _recipe(name: str, description: str) -> RecipeFile:
    return RecipeFile(name=name, path=resources.files("archon_paper") / "recipes" / f"{name}.toml",
                      description=description)


#: `archon pretrain --recipe cpu-reference`: every tokenizer, the video decoder and the small LM
#: on the tasks of every named chain, by step counts and seeds.
RECIPES = (_recipe("cpu-reference", "512 synthetic clips; every tokenizer and the video decoder; the small LM "
                                    "on the tasks of every named chain"),)
