"""Data: clip datasets on disk (tensorstore + JSON), their grain source, and packing."""

from archon_framework.data._store import FORMAT, INDEX_FILE, ClipDataset, dataset_info, write_dataset

__all__ = ["FORMAT", "INDEX_FILE", "ClipDataset", "dataset_info", "write_dataset"]
