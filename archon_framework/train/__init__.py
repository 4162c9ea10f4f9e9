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
from archon_framework.train._levels import LevelTable
from archon_framework.train._logging import MetricsLog
from archon_framework.train._step import make_optimizer, make_schedule, make_train_step
from archon_framework.train._trainer import Trainer, TrainingError, make_mesh

__all__ = [
    "CheckpointConfig",
    "DataConfig",
    "LevelTable",
    "MeshConfig",
    "MetricsLog",
    "ModelSection",
    "OptimConfig",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "load_train_config",
    "make_mesh",
    "make_optimizer",
    "make_schedule",
    "make_train_step",
]
