"""Data: clip datasets on disk (tensorstore + JSON), their grain source, and packing."""

from archon_framework.data._ingest import META_COLUMNS, ingest_clips, read_manifest
from archon_framework.data._store import FORMAT, INDEX_FILE, ClipDataset, dataset_info, write_dataset

__all__ = ["FORMAT", "INDEX_FILE", "META_COLUMNS", "ClipDataset", "dataset_info", "ingest_clips", "read_manifest", "write_dataset"]
