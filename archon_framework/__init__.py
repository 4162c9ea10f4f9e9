"""archon-framework: a plugin-based JAX framework for unified any-to-any digital-human models.

The public API. Everything not re-exported here or in a public subpackage (`config`,
`hookspecs`, `testing`, `nn`, `model`, `data`, `train`, `infer`, `eval`) is private.
"""

from archon_framework._clip import Clip, ClipMeta
from archon_framework._compilation import (
    CompileCounter,
    compilation_cache_dir,
    default_compilation_cache_dir,
    enable_compilation_cache,
)
from archon_framework._errors import (
    ArchonError,
    ArchonWarning,
    CheckpointError,
    ConfigError,
    DataError,
    DataWarning,
    LayoutMismatchError,
    PluginConflictError,
    PluginError,
    PromptError,
    RawValueError,
    TaskError,
    VocabError,
)
from archon_framework._frames import FRAME_TOLERANCE_SECONDS, fit_frame_count, moving_ellipses_labels
from archon_framework._capabilities import BlockedTokenizer, CodeVectorTokenizer, Renderer, TextTokenizer
from archon_framework._chains import Chain, ChainStep, EditCheck, EditingChain, chain_slots, chain_steps, parse_slot
from archon_framework._codec import SlotCodec
from archon_framework._modality import Modality, RawSpec, Tokenizer, TokenizerTrainer
from archon_framework._plugins import DISABLE_ENV, Registry, UntrainedDefaultWarning, load_registry
from archon_framework._prompt import (
    ParsedExample,
    Payload,
    GRID_STEPS,
    PromptSerializer,
    TIME_STEPS,
    SerializedExample,
    TextCodec,
    TextModalityCodec,
    token_grid,
    token_times,
)
from archon_framework._registry import DatasetSpec, Metric, PluginFailure, PluginInfo, PrepareStep
from archon_framework._showcase import DemoSpec, EvalDefaults, EvalRow, EvalTable, RecipeFile
from archon_framework._suites import output_balanced_weights, perplexity_weights, uniform_weights
from archon_framework._tasks import Slot, State, Task, TaskSuite, parse_task
from archon_framework._windows import (
    WINDOW_ALIGN_SECONDS,
    clip_windows,
    cut_clip,
    slot_value,
    task_windows,
    static_frame,
    window_clip,
    words_window,
)
from archon_framework._vocab import TEXT_VOCABULARY, LayoutDiff, Vocabulary, VocabLayout, VocabRange
from archon_framework.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "Chain",
    "ChainStep",
    "DemoSpec",
    "EditCheck",
    "EditingChain",
    "EvalDefaults",
    "EvalRow",
    "EvalTable",
    "RecipeFile",
    "chain_slots",
    "chain_steps",
    "parse_slot",
    "clip_windows",
    "cut_clip",
    "ArchonError",
    "ArchonWarning",
    "BlockedTokenizer",
    "CodeVectorTokenizer",
    "CheckpointError",
    "compilation_cache_dir",
    "CompileCounter",
    "Clip",
    "ClipMeta",
    "ConfigError",
    "DataError",
    "DataWarning",
    "DatasetSpec",
    "default_compilation_cache_dir",
    "DISABLE_ENV",
    "enable_compilation_cache",
    "fit_frame_count",
    "FRAME_TOLERANCE_SECONDS",
    "hookimpl",
    "LayoutDiff",
    "LayoutMismatchError",
    "load_registry",
    "Metric",
    "Modality",
    "moving_ellipses_labels",
    "output_balanced_weights",
    "parse_task",
    "ParsedExample",
    "Payload",
    "perplexity_weights",
    "PluginConflictError",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "PrepareStep",
    "PromptError",
    "PromptSerializer",
    "RawSpec",
    "RawValueError",
    "Registry",
    "UntrainedDefaultWarning",
    "Renderer",
    "SerializedExample",
    "TIME_STEPS",
    "token_times",
    "GRID_STEPS",
    "token_grid",
    "Slot",
    "slot_value",
    "SlotCodec",
    "State",
    "Task",
    "task_windows",
    "TaskError",
    "TaskSuite",
    "TEXT_VOCABULARY",
    "TextCodec",
    "TextModalityCodec",
    "TextTokenizer",
    "Tokenizer",
    "TokenizerTrainer",
    "uniform_weights",
    "static_frame",
    "window_clip",
    "words_window",
    "VocabError",
    "VocabLayout",
    "VocabRange",
    "Vocabulary",
    "WINDOW_ALIGN_SECONDS",
    "__version__",
]
