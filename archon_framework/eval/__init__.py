"""Evaluation: the installed evaluation tables (archon-paper's: the paper's Tables 1-3) on held-out
clips (`archon eval`).

```python
from archon_framework import load_registry
from archon_framework.eval import evaluate, heldout_clips, load_experts, write_report
from archon_framework.infer import load_checkpoint

registry = load_registry()
model = load_checkpoint("runs/lm", registry)
clips, _ = heldout_clips(registry, n=8, dataset="synthetic_heads_test", seconds=1.0)
result = evaluate(model, clips, registry.eval_tables.values(), experts=load_experts("runs/lm-experts", registry))
write_report(result, "runs/eval")                       # eval.md, eval.json, eval.png
```

Metrics come from the installed plugins' ``archon_metrics()`` hooks (archon-eval-metrics,
archon-text-t5); each score that a pretrained model makes is written with its versioned
definition, and a report says where its definitions differ from the previous one (``compare_reports``); the experts of Table 3 are trained by
`archon_framework.train.train_experts`. The plot needs matplotlib (the ``plot`` extra).
"""

from archon_framework._stats import paired_interval
from archon_framework.eval._cli import command_line, heldout_clips, heldout_digest, read_run, run_eval, run_registry
from archon_framework.eval._controls import (StepControl, baseline_value, derangement, installed_main_metrics,
                                             main_metric, metric_key, metric_score, step_controls,
                                             target_nll)
from archon_framework.eval._evaluate import EvalResult, RowResult, TableResult, check_metrics, evaluate
from archon_framework.eval._report import (
    PLOT_EXTRA,
    chain_label,
    compare_reports,
    plot_metrics,
    report_json,
    report_markdown,
    write_report,
)
from archon_framework.eval._run import ChainRun, ExpertModels, ground_truth_run, load_experts, prepare_chain, run_chain
from archon_framework.eval._score import (
    MetricScores,
    Prediction,
    definition_id,
    is_set_level,
    metric_applies,
    metric_definition,
    score_predictions,
)
from archon_framework._showcase import EvalDefaults, EvalRow, EvalTable, guidance_table, select_tables

__all__ = [
    "guidance_table",
    "StepControl",
    "baseline_value",
    "derangement",
    "installed_main_metrics",
    "main_metric",
    "metric_key",
    "metric_score",
    "paired_interval",
    "step_controls",
    "target_nll",
    "ChainRun",
    "EvalDefaults",
    "EvalResult",
    "EvalRow",
    "EvalTable",
    "ExpertModels",
    "MetricScores",
    "PLOT_EXTRA",
    "Prediction",
    "RowResult",
    "TableResult",
    "chain_label",
    "check_metrics",
    "command_line",
    "compare_reports",
    "definition_id",
    "evaluate",
    "ground_truth_run",
    "heldout_clips",
    "heldout_digest",
    "is_set_level",
    "load_experts",
    "metric_applies",
    "metric_definition",
    "plot_metrics",
    "prepare_chain",
    "read_run",
    "report_json",
    "report_markdown",
    "run_chain",
    "run_eval",
    "run_registry",
    "score_predictions",
    "select_tables",
    "write_report",
]
