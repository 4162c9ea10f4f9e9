"""Training the prefix LM: configs, the trainer, schedules and meshes, and per-modality experts;
step budgets that keep compile time apart (`StepBudget`, shared with the plugins' trainers);
multi-process runs on JAX's distributed runtime (`join_cluster`, `launch_local`) and data parallelism
for any trainer (`DataParallel`)."""

from archon_framework.train._budget import StepBudget, TrainReport, UndertrainedWarning, training_record
from archon_framework.train._config import (
    CheckpointConfig,
    DataConfig,
    MeshConfig,
    ModelSection,
    OptimConfig,
    TrainConfig,
    check_train_config,
    load_train_config,
)
from archon_framework.train._distributed import ClusterConfig, DistributedError, ProcessLostError, join_cluster
from archon_framework.train._experts import (
    EXPERTS_MANIFEST,
    ExpertPlan,
    ExpertSpec,
    expert_model_config,
    param_count,
    plan_experts,
    read_expert_plan,
    train_experts,
)
from archon_framework.train._launch import LaunchError, LocalLaunch, launch_local
from archon_framework.train._levels import LevelTable
from archon_framework.train._logging import MetricsLog
from archon_framework.train._mesh import DataParallel
from archon_framework.train._step import make_optimizer, make_schedule, make_train_step
from archon_framework.train._trainer import (
    MODEL_CONFIG_FILE,
    Trainer,
    TrainingError,
    make_mesh,
    read_run_suite,
    save_run_suite,
    weighted_suite,
)

__all__ = [
    "CheckpointConfig",
    "ClusterConfig",
    "DataConfig",
    "DataParallel",
    "DistributedError",
    "EXPERTS_MANIFEST",
    "ExpertPlan",
    "ExpertSpec",
    "LaunchError",
    "LevelTable",
    "LocalLaunch",
    "MODEL_CONFIG_FILE",
    "MeshConfig",
    "MetricsLog",
    "ModelSection",
    "OptimConfig",
    "ProcessLostError",
    "StepBudget",
    "TrainConfig",
    "TrainReport",
    "Trainer",
    "TrainingError",
    "UndertrainedWarning",
    "check_train_config",
    "expert_model_config",
    "join_cluster",
    "launch_local",
    "load_train_config",
    "make_mesh",
    "make_optimizer",
    "make_schedule",
    "make_train_step",
    "param_count",
    "plan_experts",
    "read_expert_plan",
    "read_run_suite",
    "save_run_suite",
    "train_experts",
    "training_record",
    "weighted_suite",
]
