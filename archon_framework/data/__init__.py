"""Data: clip datasets on disk (tensorstore + JSON), their grain source, examples and packing."""

from archon_framework.data._examples import TaskSampler, TokenCache, needed_keys, slot_window_key
from archon_framework.data._ingest import META_COLUMNS, ingest_clips, read_manifest
from archon_framework.data._prepare import (
    REPORT_FILE,
    VIDEO_SUFFIXES,
    PrepareConfig,
    PrepareContext,
    PrepareError,
    VideoJob,
    clips_of,
    find_videos,
    plan_steps,
    prepare_video,
    prepare_videos,
)
from archon_framework.data._packing import DEFAULT_SEQ_LEN, PACKED_FEATURES, LMExample, coordinates, pack_examples
from archon_framework.data._store import FORMAT, INDEX_FILE, ClipDataset, dataset_info, write_dataset
from archon_framework.data._synthesize import synthesize

__all__ = [
    "REPORT_FILE",
    "VIDEO_SUFFIXES",
    "PrepareConfig",
    "PrepareContext",
    "PrepareError",
    "VideoJob",
    "clips_of",
    "coordinates",
    "find_videos",
    "plan_steps",
    "prepare_video",
    "prepare_videos",
    "DEFAULT_SEQ_LEN",
    "FORMAT",
    "INDEX_FILE",
    "LMExample",
    "META_COLUMNS",
    "PACKED_FEATURES",
    "ClipDataset",
    "TaskSampler",
    "TokenCache",
    "dataset_info",
    "ingest_clips",
    "needed_keys",
    "pack_examples",
    "read_manifest",
    "slot_window_key",
    "synthesize",
    "write_dataset",
]
