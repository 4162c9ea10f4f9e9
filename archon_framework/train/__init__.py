"""Training the prefix LM: configs, the trainer, schedules and meshes."""

from archon_framework.train._config import (
    CheckpointConfig,
    DataConfig,
    MeshConfig,
    ModelSection,
    OptimConfig,
    TrainConfig,
    load_train_config,
)
from archon_framework.train._trainer import Trainer, TrainingError, make_mesh, make_schedule

__all__ = [
    "CheckpointConfig",
    "DataConfig",
    "MeshConfig",
    "ModelSection",
    "OptimConfig",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "load_train_config",
    "make_mesh",
    "make_schedule",
]
