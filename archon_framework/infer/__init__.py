"""Inference: chained generation ("thinking in modality", paper Sec. 3.2 eq. 2 and 3.4), editing,
automatic chain choice, output files, and the demo.

```python
from archon_framework import load_registry
from archon_framework.infer import load_checkpoint, generate, edit, Sampling

model = load_checkpoint("runs/lm", load_registry())
result = generate(model, {"speech": wave, "image": rgb}, "speech-to-video", seed=0,
                  sampling=Sampling(temperature=0.8, top_k=50))
result.value("video")                                   # uint8 [frames, H, W, 3]
edited = edit(model, result, {"image": other_rgb})      # regenerates only what reads the image
new = edit_clip(model, clip, {"script": "Hello there."}, "edit-script")  # an installed editing chain
```
"""

from archon_framework._chains import (
    Chain,
    ChainStep,
    EditCheck,
    EditingChain,
    PlannedStep,
    chain_slots,
    chain_steps,
    default_slot,
    parse_chain,
    parse_slot,
    plan_chain,
)
from archon_framework.infer._lm_steps import StepRanges, step_ranges
from archon_framework.infer._edit_check import check_edits
from archon_framework.infer._editing import (
    EditResult,
    edit_check_figures,
    edit_clip,
    match_length,
    measure_edit,
)
from archon_framework.infer._generate import (
    ChainScore,
    GenerationResult,
    Ids,
    StepResult,
    choose_chain,
    downstream,
    edit,
    generate,
    resolve_chain,
)
from archon_framework.infer._export import export_model
from archon_framework.infer._model import LoadedModel, load_checkpoint, model_folder, trained_suite
from archon_framework.infer._outputs import write_outputs
from archon_framework.infer._shipped import resolve_model, ship_model, shipped_models, tokenizers_folder
from archon_framework.infer._recipe import Recipe, list_recipes, load_recipe, run_recipe
from archon_framework.model import Sampling

__all__ = [
    "Chain",
    "ChainScore",
    "ChainStep",
    "EditCheck",
    "EditResult",
    "EditingChain",
    "GenerationResult",
    "Ids",
    "LoadedModel",
    "PlannedStep",
    "Recipe",
    "Sampling",
    "StepRanges",
    "StepResult",
    "chain_slots",
    "chain_steps",
    "check_edits",
    "choose_chain",
    "default_slot",
    "downstream",
    "edit",
    "edit_check_figures",
    "edit_clip",
    "export_model",
    "generate",
    "list_recipes",
    "load_checkpoint",
    "load_recipe",
    "match_length",
    "model_folder",
    "measure_edit",
    "parse_chain",
    "parse_slot",
    "plan_chain",
    "resolve_chain",
    "resolve_model",
    "run_recipe",
    "ship_model",
    "shipped_models",
    "step_ranges",
    "tokenizers_folder",
    "trained_suite",
    "write_outputs",
]
