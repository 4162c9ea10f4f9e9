"""`archon eval` end to end on a briefly trained toy checkpoint (tables, experts, report, plot),
its scoring rules on hand-made cases, and the bad inputs it refuses."""

from __future__ import annotations

import importlib.util
import json
import math
import sys

import attrs
import jax
import equinox as eqx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework import Clip, ConfigError
from archon_framework.data import write_dataset
from archon_framework._showcase import EvalTable
from archon_framework.eval import Prediction, heldout_digest, score_predictions, select_tables
from archon_framework.eval._score import MetricScores, combine_seeds
from archon_framework.model import PrefixLM, load_model_config
from archon_framework.train import (
    CheckpointConfig,
    DataConfig,
    ModelSection,
    TrainConfig,
    Trainer,
    expert_model_config,
    param_count,
    plan_experts,
    read_expert_plan,
)
from archon_paper import TABLE2, TABLES
from test_eval_kit import META, SUITE, TOY_METRICS, toy_clip, toy_registry

ONE_LAYER = """[model]
vocab_size = 512
d_model = 32
n_layers = 1
n_heads = 2
d_ff = 64
max_seq_len = 512
"""
CLIP = ["--dataset", "toy_test", "--heldout", "2", "--max-text-tokens", "4", "--no-progress"]


# ---------------------------------------------------------------------- experts: the parameter and budget rules
@pytest.mark.parametrize("vocab", [300, 292_816])
def test_experts_share_the_unified_parameter_count(vocab):
    unified = load_model_config("tiny").replace(vocab_size=vocab)
    for k in (1, 2, 5, 8):
        cfg = expert_model_config(unified, k)
        assert k * param_count(cfg) <= param_count(unified)
        assert (cfg.n_layers, cfg.n_kv_heads) == (unified.n_layers, unified.n_kv_heads)
        assert cfg.d_ff / cfg.d_model == unified.d_ff / unified.d_model
        wider = cfg.replace(d_model=cfg.d_model + 2 * cfg.n_heads, d_ff=4 * (cfg.d_model + 2 * cfg.n_heads))
        assert k == 1 or k * param_count(wider) > param_count(unified), "not the widest that fits"
    assert expert_model_config(unified, 1) == unified


def test_param_count_is_the_models_own():
    cfg = load_model_config("tiny").replace(vocab_size=300, d_model=24, d_ff=96)
    model = PrefixLM(cfg, key=jax.random.key(0))
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))
    assert sum(x.size for x in leaves) == param_count(cfg)


def test_plan_splits_tasks_by_output_and_steps_by_task_mass():
    suite = SUITE.with_weights([1, 1, 1, 1, 1, 3])
    plan = plan_experts(suite, load_model_config("tiny").replace(vocab_size=300), 80)
    assert [e.modality for e in plan.experts] == ["identity", "expression", "semantic", "description", "speech"]
    tasks = [t for e in plan.experts for t in e.suite.tasks]
    assert sorted(t.name for t in tasks) == sorted(t.name for t in suite.tasks)
    assert all({t.output.modality for t in e.suite.tasks} == {e.modality} for e in plan.experts)
    assert {e.modality: e.steps for e in plan.experts} == {"identity": 10, "expression": 10, "semantic": 20,
                                                           "description": 10, "speech": 30}
    assert plan.total_params <= plan.unified_params
    assert {e.steps for e in plan_experts(suite, load_model_config("tiny").replace(vocab_size=300), 80,
                                          expert_steps=3).experts} == {3}


# ---------------------------------------------------------------------- scoring rules
def _metrics():
    return {m.name: m for m in TOY_METRICS}


def test_identical_outputs_score_zero_and_conditions_are_never_scored():
    ref = toy_clip(0)
    pred = Prediction(produced={"semantic": ref["semantic"]}, given={"speech": ref["speech"], "image": ref["image"]})
    scores = score_predictions(_metrics(), [pred], [ref])
    assert scores.mean["semantic_error"] == 0.0
    assert "speech_error" not in scores.mean and "image_error" not in scores.mean  # given, not produced
    # lip-sync style: the produced semantic with the *given* speech
    expect = float(np.mean(np.abs(ref["semantic"].mean(axis=1) - ref["speech"].mean(axis=1))))
    assert scores.mean["toy_sync.gap"] == pytest.approx(expect)
    assert scores.mean["toy_sync.frames"] == META.frames


def test_means_counts_set_level_and_failures():
    refs = [toy_clip(i) for i in range(3)]
    preds = [Prediction(produced={"semantic": r["semantic"] + 0.25 * i, "video": np.full((4, 4, 4, 3), 10 * i, np.uint8),
                                  "expression": r["expression"]}, given={})
             for i, r in enumerate(refs)]
    preds[2] = None  # a clip that could not be run
    refs = [Clip(r.meta, {**r.values, "video": np.zeros((4, 4, 4, 3), np.uint8)}) for r in refs]
    scores = score_predictions(_metrics(), preds, refs)
    assert scores.mean["semantic_error"] == pytest.approx(0.125) and scores.count["semantic_error"] == 2
    assert scores.set_level["video_set_distance"] == pytest.approx(5.0) and scores.set_count["video_set_distance"] == 2
    assert "video_set_distance" not in scores.per_clip[0]
    assert list(scores.errors.values()) == [2] and "expression_broken: ValueError" in next(iter(scores.errors))
    assert math.isfinite(scores.values()["semantic_error"])


def _scores(per_clip, set_level=None, errors=None):
    clips = [{k: v for k, v in c.items() if v is not None} for c in per_clip]
    return MetricScores(mean={}, stderr={}, count={}, set_level=set_level or {}, set_count={k: len(clips) for k in set_level or {}},
                        per_clip=tuple(clips), errors=errors or {})


_VALUE = st.one_of(st.none(), st.just(math.nan), st.floats(-1e3, 1e3))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4).flatmap(lambda seeds: st.lists(st.lists(_VALUE, min_size=seeds, max_size=seeds),
                                                          min_size=1, max_size=6)))
def test_a_clip_scores_its_mean_over_the_seeds(values):
    """values[clip][seed]: a clip's combined score is the mean of its finite seed scores, and the
    row's mean, stderr and count are those of the clips (the unit of every interval)."""
    seeds = len(values[0])
    runs = [_scores([{"m": clip[k]} for clip in values]) for k in range(seeds)]
    combined = combine_seeds(runs)
    assert len(combined.per_clip) == len(values)
    per_clip = []
    for clip, got in zip(values, combined.per_clip):
        finite = [v for v in clip if v is not None and math.isfinite(v)]
        if any(v is not None for v in clip):
            expect = sum(finite) / len(finite) if finite else math.nan
            assert got["m"] == pytest.approx(expect, nan_ok=True)
            per_clip.append(expect)
        else:
            assert "m" not in got
    finite = [v for v in per_clip if math.isfinite(v)]
    if seeds > 1 and any(v is not None for clip in values for v in clip):
        assert combined.count["m"] == len(finite)
        assert combined.mean["m"] == pytest.approx(sum(finite) / len(finite) if finite else math.nan, nan_ok=True)
    if seeds == 1:
        assert combined is runs[0]  # one run is returned as it is


def test_combined_seeds_average_set_level_values_and_add_errors():
    a = _scores([{"m": 1.0}], set_level={"fd": 2.0}, errors={"x: ValueError": 1})
    b = _scores([{"m": 3.0}], set_level={"fd": 4.0}, errors={"x: ValueError": 2, "y: KeyError": 1})
    combined = combine_seeds([a, b])
    assert combined.set_level == {"fd": 3.0} and combined.per_clip == ({"m": 2.0},)
    assert combined.errors == {"x: ValueError": 3, "y: KeyError": 1}
    with pytest.raises(ValueError, match=r"runs over different clips \(1, 2\)"):
        combine_seeds([a, _scores([{"m": 1.0}, {"m": 2.0}])])


def test_a_table_compares_with_one_of_its_own_rows():
    with pytest.raises(ConfigError, match="eval table 'tab': compare_to 'everything' is not one of its rows"):
        EvalTable(name="tab", title="t", paper="p", rows=TABLES[2].rows, columns=(), compare_to="everything")


def test_select_tables():
    assert select_tables("all", TABLES) == TABLES
    assert [t.name for t in select_tables("table3,table1", TABLES)] == ["table3", "table1"]
    with pytest.raises(ConfigError, match=r"unknown --suite 'table4'; choose table1, table2, table3 or all"):
        select_tables("table4", TABLES)
    with pytest.raises(ConfigError, match="no evaluation table is installed"):
        select_tables("all", ())


# ---------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def registry():
    return toy_registry()


@pytest.fixture(scope="module")
def run(registry, tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = write_dataset(root / "data", [toy_clip(i) for i in range(4)], name="toy", validate=registry.check_clip,
                         static={"image": True, "identity": True, "description": True})
    (root / "one_layer.toml").write_text(ONE_LAYER)  # compiles faster than tiny; the experts inherit it
    cfg = TrainConfig(out_dir=str(root / "run"), steps=4, log_every=1, model=ModelSection(config=str(root / "one_layer.toml")),
                      data=DataConfig(dataset=str(data), suite="toy_eval", seq_len=512, batch_size=2, packing_bins=2),
                      checkpoint=CheckpointConfig(every=4, keep=1))
    Trainer(cfg, registry, progress=False).train()
    return root


@pytest.fixture
def invoke(registry, monkeypatch):
    def call(*args, reg=registry):
        monkeypatch.setattr(cli._common, "load_registry", lambda: reg)
        monkeypatch.setattr(cli._common, "loaded", [])
        return CliRunner().invoke(cli.app, [str(a) for a in args])

    return call


@pytest.fixture(scope="module")
def report(run, registry):
    """One `archon eval --suite all --train-experts` on the toy run (shared by the flow tests)."""
    out = run / "report"
    cli._common.load_registry, saved = (lambda: registry), cli._common.load_registry
    cli._common.loaded.clear()
    try:
        result = CliRunner().invoke(cli.app, ["eval", "--checkpoint", str(run / "run"), "--out", str(out), "--name", "toy",
                                              "--train-experts", "--expert-steps", "2", "--guidance-scale", "0",
                                              "--guidance-scale", "1.5", *CLIP])
    finally:
        cli._common.load_registry = saved
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "toy.json").read_text()), (out / "toy.md").read_text()


def _rows(data, table):
    return {r["label"]: r for t in data["tables"] if t["name"] == table for r in t["rows"]}


def test_report_has_every_table_and_the_command(report, run):
    out, data, md = report
    assert [t["name"] for t in data["tables"]] == ["table1", "table2", "table3", "guidance"]
    assert data["command"] == (f"archon eval --checkpoint {run / 'run'} --out {out} --name toy --heldout 2 --dataset toy_test "
                               "--train-experts --expert-steps 2 --max-text-tokens 4 --no-progress "
                               "--guidance-scale 0.0 --guidance-scale 1.5")
    assert md.startswith("# archon eval: toy") and data["command"] in md
    assert data["step"] == 4 and data["heldout"]["clips"] == 2 and data["heldout"]["dataset"] == "toy_test"
    assert {p.name for p in out.iterdir()} >= {"toy.md", "toy.json"}
    if importlib.util.find_spec("matplotlib") is not None:  # the optional plot extra
        assert (out / "toy.png").exists() and data["plot"] == "toy.png" and "![metrics per chain](toy.png)" in md


def test_every_step_of_the_control_chains_is_compared_with_its_shuffled_control(report):
    _, data, md = report
    steps = {c["step"].split("->")[-1]: c for c in data["controls"] if c["chain"] == "speech-to-video"}
    # the toy metrics score identity, semantic (and the video's set-level metric is no per-clip score)
    assert {"identity(t)", "semantic(c)"} <= set(steps), [n for n in data["notes"] if "control" in n]
    for slot in ("identity(t)", "semantic(c)"):
        c = steps[slot]
        assert c["n"] == 2 and len(c["ci95"]) == 2 and {"real", "control", "baseline", "difference"} <= set(c), c
    assert steps["expression(c)"]["n"] == 0  # its toy metric always fails: missing, never a score
    assert "## Shuffled-condition controls" in md
    # the toy suite has no text-to-all tasks: said, not silently dropped
    assert any("controls: chain 'text-to-all' cannot run" in n for n in data["notes"])


def test_guidance_zero_is_the_unguided_chain_and_a_scale_is_picked(report):
    _, data, _ = report
    guided = _rows(data, "guidance")
    assert set(guided) == {"guidance w = 0", "guidance w = 1.5"}
    full = _rows(data, "table1")["Archon (full chain)"]
    # scale 0 decodes exactly as unguided decoding: the same outputs, so the same scores
    assert guided["guidance w = 0"]["metrics"] == full["metrics"] and guided["guidance w = 0"]["status"] == "ok"
    assert any(n.startswith("guidance: guidance w = ") and "scores best by" in n for n in data["notes"]), \
        [n for n in data["notes"] if "guid" in n]


def test_table1_scores_the_full_chain(report):
    _, data, md = report
    row = _rows(data, "table1")["Archon (full chain)"]
    assert row["status"] == "ok" and row["clips"] == 2
    assert row["steps"][:4] == ["image(t)->identity(t)", "speech(c)+identity(t)+image(t)->expression(c)",
                                "image(t)+expression(c)->semantic(c)", "image(t)+semantic(c)+speech(c)->description(t)"]
    m = row["metrics"]
    assert {"semantic_error", "identity_error", "toy_sync.gap", "video_set_distance"} <= set(m)
    assert "speech_error" not in m and "image_error" not in m  # conditions
    assert row["counts"]["semantic_error"] == 2 and "video_set_distance" in row["set_level"]
    assert any("expression_broken" in n["text"] and n["where"] == "metric" for n in row["notes"])
    assert "| `semantic_error` | ↓ |" in md
    truth = _rows(data, "table1")["ground truth"]  # the clips' own values: every distance is zero
    assert truth["metrics"]["semantic_error"] == truth["metrics"]["identity_error"] == 0.0
    assert truth["metrics"]["video_set_distance"] == 0.0 and truth["metrics"]["toy_sync.gap"] > 0


def test_table2_skips_rows_whose_tasks_were_not_trained(report):
    _, data, _ = report
    rows = _rows(data, "table2")
    assert rows["Archon (script + image)"]["status"] == "ok"
    assert "speech_error" in rows["Archon (script + image)"]["metrics"]
    skipped = rows["Archon (script + image, via identity)"]
    assert skipped["status"] == "skipped" and "script(c)+identity(t)->speech(c) is not in the suite" in skipped["reason"]
    assert rows["reference: description + script"]["status"] == "skipped"


def test_table3_experts_thinking_and_direct(report, run):
    _, data, _ = report
    rows = _rows(data, "table3")
    full, direct, experts = rows["full model"], rows["w/o thinking (direct chain)"], rows["w/o unified model (experts, full chain)"]
    assert full["metrics"] == _rows(data, "table1")["Archon (full chain)"]["metrics"]  # one run, reported twice
    assert direct["steps"][0] == "speech(c)+image(t)->semantic(c)" and "identity_error" not in direct["metrics"]
    assert experts["status"] == "ok" and experts["steps"] == full["steps"]
    assert experts["valid_outputs"] == full["valid_outputs"] == {m: 2 for m in ("identity", "expression", "semantic",
                                                                                "description", "video")}
    assert {"semantic_error", "identity_error"} <= set(experts["metrics"])
    plan = read_expert_plan(run / "run-experts")
    assert sorted(plan.trained) == ["description", "expression", "identity", "semantic"]  # what the chain needs
    assert len(plan.experts) == 5 and plan.total_params <= plan.unified_params  # all 5 outputs counted
    assert data["experts"]["total_params"] == plan.total_params and {e.steps for e in plan.experts} == {2}


def test_table3_over_sampling_seeds_compares_the_full_model_clip_by_clip(report, invoke, run, tmp_path):
    """--seeds 2: each model row runs twice, its first run is the one-seed run, a clip scores
    its mean, and the full model is compared with each ablation on the same clips."""
    _, single, _ = report
    result = invoke("eval", "--checkpoint", run / "run", "--suite", "table3", "--seeds", "2", "--out", tmp_path,
                    "--no-controls", *CLIP)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "eval.json").read_text())
    assert data["seeds"] == 2
    rows, before = _rows(data, "table3"), _rows(single, "table3")
    full = rows["full model"]
    assert full["seeds"] == 2 and len(full["per_seed"]) == 2
    assert full["per_seed"][0] == before["full model"]["metrics"]  # run 0 samples as a one-seed run does
    assert full["valid_outputs"] == {m: 4 for m in ("identity", "expression", "semantic", "description", "video")}
    comparisons = {(c["row"], c["metric"]): c for t in data["tables"] for c in t.get("comparisons", [])}
    assert {row for row, _ in comparisons} == {"w/o thinking (direct chain)", "w/o unified model (experts, full chain)"}
    c = comparisons[("w/o thinking (direct chain)", "semantic_error")]
    diffs = [b["semantic_error"] - a["semantic_error"]  # lower is better: positive favours the full model
             for a, b in zip(full["per_clip"], rows["w/o thinking (direct chain)"]["per_clip"])]
    assert c["against"] == "full model" and c["n"] == 2 and c["difference"] == pytest.approx(np.mean(diffs))
    assert c["ci95"][0] <= c["difference"] <= c["ci95"][1]
    md = (tmp_path / "eval.md").read_text()
    assert "### full model against each other row, clip by clip" in md and "x 2 sampling seeds" in md


def test_rows_of_an_earlier_report_are_reused_not_run_again(report, invoke, run, tmp_path):
    """--reuse: the rows an earlier report of the same setup scored are read back, as they were,
    and compared like rows run now; a report of another setup is refused, naming what differs."""
    out, before, _ = report
    result = invoke("eval", "--checkpoint", run / "run", "--suite", "table3", "--reuse", out / "toy.json", "--out", tmp_path,
                    "--no-controls", *CLIP)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "eval.json").read_text())
    rows, earlier = _rows(data, "table3"), _rows(before, "table3")
    for label, row in rows.items():
        assert row["metrics"] == earlier[label]["metrics"] and row["per_clip"] == earlier[label]["per_clip"], label
        assert row["seconds"] == earlier[label]["seconds"]
        assert any(n["where"] == "reused" and str(out / "toy.json") in n["text"] for n in row["notes"]), row["notes"]
    assert {c["row"] for t in data["tables"] for c in t.get("comparisons", [])} == {
        "w/o thinking (direct chain)", "w/o unified model (experts, full chain)"}
    other = invoke("eval", "--checkpoint", run / "run", "--suite", "table3", "--reuse", out / "toy.json", "--seed", "5",
                   "--out", tmp_path / "o", "--no-controls", *CLIP)
    assert other.exit_code == 2 and "its seed is 0, this run's is 5: its rows are not this run's" in " ".join(other.output.split())
    (tmp_path / "bad.json").write_text("{not json")
    bad = invoke("eval", "--checkpoint", run / "run", "--suite", "table3", "--reuse", tmp_path / "bad.json",
                 "--out", tmp_path / "o", "--no-controls", *CLIP)
    assert bad.exit_code == 2 and "not a readable archon eval report" in " ".join(bad.output.split())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3), st.sampled_from(["speech", "identity", "script", "description"]), st.integers(0, 5))
def test_heldout_digest_changes_with_any_clip_value(i, modality, seed):
    """The digest is a function of the clips in order: one changed value, another clip id or
    another order changes it; the same clips made again do not."""
    clips = [toy_clip(k, split="test") for k in range(4)]
    digest = heldout_digest(clips)
    assert heldout_digest([toy_clip(k, split="test") for k in range(4)]) == digest
    value = clips[i][modality]
    other = value + " " if isinstance(value, str) else np.asarray(value) + np.float32(1 + seed)
    changed = list(clips)
    changed[i] = Clip(clips[i].meta, {**clips[i].values, modality: other})
    assert heldout_digest(changed) != digest
    assert heldout_digest(clips[::-1]) != digest
    renamed = list(clips)
    renamed[i] = Clip(attrs.evolve(clips[i].meta, clip_id=f"x{seed}"), clips[i].values)
    assert heldout_digest(renamed) != digest
    # an array inside a structured value counts by its bytes, not by its (summarized) printed form
    big = np.zeros(5000, np.float32)
    nested = [Clip(clips[0].meta, {"description": {"a": big}})]
    changed_big = big.copy()
    changed_big[2500] = 1
    assert heldout_digest(nested) != heldout_digest([Clip(clips[0].meta, {"description": {"a": changed_big}})])


def test_a_report_of_other_clips_is_not_reused(report, invoke, run, tmp_path):
    """--reuse refuses a report whose held-out clips are not this run's, though every setting it
    names is equal (a dataset written again at the same path), and one with no digest to check."""
    out, before, _ = report
    assert len(before["heldout"]["digest"]) == 64
    for name, heldout, expected in [
        ("other.json", {**before["heldout"], "digest": "0" * 64}, "its held-out clips differ from this run's"),
        ("old.json", {k: v for k, v in before["heldout"].items() if k != "digest"}, "its held-out record has no digest"),
    ]:
        (tmp_path / name).write_text(json.dumps({**before, "heldout": heldout}))
        result = invoke("eval", "--checkpoint", run / "run", "--suite", "table3", "--reuse", tmp_path / name,
                        "--out", tmp_path / "o", "--no-controls", *CLIP)
        assert result.exit_code == 2 and expected in " ".join(result.output.split()), result.output


def test_an_exported_models_experts_train_on_its_recipes_data_made_again(run, registry, invoke, tmp_path):
    """An exported (or shipped) model keeps no training data: --experts-data RUN trains Table 3's
    experts on a recipe run's data and token cache (here the toy run's own, laid out as a recipe
    run: RUN/data, RUN/lm), matched to the model; without it, or with a run that lacks the data or
    the model's layout, eval stops first and says what to pass."""
    from archon_framework.infer import export_model

    export_model(run / "run", tmp_path / "model", registry, name="toy")
    again = tmp_path / "again"
    again.mkdir()
    (again / "lm").symlink_to(run / "run", target_is_directory=True)
    (again / "data").symlink_to(run / "data", target_is_directory=True)
    args = ("eval", "--checkpoint", tmp_path / "model", "--suite", "table3", "--train-experts", "--expert-steps", "1",
            "--out", tmp_path / "out", "--no-controls", *CLIP)
    result = invoke(*args, "--experts-data", again)
    assert result.exit_code == 0, result.output
    plan = read_expert_plan(tmp_path / "again-experts")
    assert plan.trained and plan.unified_steps == 4
    rows = _rows(json.loads((tmp_path / "out" / "eval.json").read_text()), "table3")
    assert rows["w/o unified model (experts, full chain)"]["status"] == "ok"

    no_data = invoke(*args)
    assert no_data.exit_code == 2 and "keeps no training data" in " ".join(no_data.output.split())
    empty = tmp_path / "empty"
    (empty / "lm").mkdir(parents=True)
    lacking = invoke(*args, "--experts-data", empty)
    assert lacking.exit_code == 2 and "token-cache.json" in " ".join(lacking.output.split())
    alone = invoke("eval", "--checkpoint", tmp_path / "model", "--experts-data", again, "--out", tmp_path / "o", *CLIP)
    assert alone.exit_code == 2 and "pass it with --train-experts" in " ".join(alone.output.split())
    no_row = invoke("eval", "--checkpoint", tmp_path / "model", "--suite", "table2", "--train-experts", "--experts-data",
                    again, "--out", tmp_path / "o", *CLIP)
    assert no_row.exit_code == 2 and "no selected table has an experts row" in " ".join(no_row.output.split())


def test_seeds_below_one_are_refused(invoke, run, tmp_path):
    result = invoke("eval", "--checkpoint", run / "run", "--suite", "table3", "--seeds", "0", "--out", tmp_path, *CLIP)
    assert result.exit_code == 2 and "--seeds must be >= 1, got 0" in result.output


def test_experts_generate_with_their_own_weights(report, run, registry):
    """An expert differs from the unified model, and each step really ran on its expert."""
    from archon_framework.eval import load_experts
    from archon_framework.infer import load_checkpoint

    experts = load_experts(run / "run-experts", registry)
    unified = load_checkpoint(run / "run", registry)
    sem = experts.model("semantic")
    assert sem.lm.config.d_model < unified.lm.config.d_model
    assert [t.output.modality for t in sem.suite.tasks] == ["semantic", "semantic"]


def test_plot_is_optional(run, registry, monkeypatch, tmp_path, invoke):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = invoke("eval", "--checkpoint", run / "run", "--suite", "table2", "--out", tmp_path, *CLIP)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "eval.json").read_text())
    assert not (tmp_path / "eval.png").exists()
    assert any("matplotlib is not installed; pip install 'archon-framework[plot]'" in n for n in data["notes"])


# ---------------------------------------------------------------------- bad input
def test_unknown_suite(invoke, run, tmp_path):
    result = invoke("eval", "--checkpoint", run / "run", "--suite", "table9", "--out", tmp_path, *CLIP)
    assert result.exit_code == 2 and "unknown --suite 'table9'" in result.output


def test_not_a_training_run(invoke, run, tmp_path):
    result = invoke("eval", "--checkpoint", run / "data", "--out", tmp_path, *CLIP)
    assert result.exit_code == 2 and "not a training run (no checkpoints/ folder)" in result.output


def test_no_metrics_plugin_names_what_to_install(invoke, run, tmp_path):
    result = invoke("eval", "--checkpoint", run / "run", "--suite", "table2", "--out", tmp_path, *CLIP,
                    reg=toy_registry(metrics=False))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "table2: no installed metric scores identity, speech (installed metrics: none)" in text and "install archon-eval-metrics (pip install -e plugins/eval_metrics)" in text


def test_heldout_without_a_condition(invoke, run, registry, tmp_path):
    clips = [Clip(c.meta, {k: v for k, v in c.values.items() if k != "image"}) for c in (toy_clip(9), toy_clip(10))]
    data = write_dataset(tmp_path / "heldout", clips, name="no-image", static={"identity": True, "description": True})
    result = invoke("eval", "--checkpoint", run / "run", "--suite", "table1", "--data", data, "--out", tmp_path / "o",
                    "--no-progress")
    assert result.exit_code == 2
    assert "has no 'image' values, which table1" in " ".join(result.output.split())
    assert TABLE2.rows[0].chain.conditions  # the table data is shared, not mutated by a run


def test_experts_of_another_run_are_refused(report, invoke, run, tmp_path):
    plan = json.loads((run / "run-experts" / "experts.json").read_text())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "experts.json").write_text(json.dumps({**plan, "unified_steps": 999}))
    result = invoke("eval", "--checkpoint", run / "run", "--suite", "table3", "--experts", tmp_path / "other",
                    "--out", tmp_path / "o", *CLIP)
    assert result.exit_code == 2
    assert "these experts were matched to a unified model" in " ".join(result.output.split())
