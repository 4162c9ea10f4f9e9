"""Reference recipes: shipped recipes load, cover every named chain, and bad recipes are named."""

from __future__ import annotations

import json

from pathlib import Path

import attrs
import pytest

from archon_framework import ConfigError, TaskError, load_registry
from archon_framework.infer._demo import DemoConfig, demo_suite, extra_task
from archon_framework.infer._page import write_page
from archon_framework.infer._recipe import list_recipes, load_recipe, plot_learning_curves
from archon_framework.testing import make_registry
from archon_paper import _plugin as paper

REGISTRY = make_registry(("paper", paper))


@pytest.fixture(scope="module")
def installed_registry():
    """The installed plugins' registry: the paper's suites and chains with their modalities."""
    return load_registry()

_PAPER_CHAINS = {"text-to-all", "speech-to-all", "speech-to-video", "speech-to-video-direct",
                 "animation-to-video", "semantic-to-all", "video-to-all"}


def test_the_cpu_reference_recipe_trains_every_named_chain_by_steps():
    assert "cpu-reference" in list_recipes(REGISTRY)
    recipe = load_recipe("cpu-reference", REGISTRY)
    cfg = recipe.demo_config("runs/x")
    assert set(cfg.chains) == _PAPER_CHAINS and cfg.clips >= 512 and cfg.lm_steps
    assert cfg.tokenizer_steps and all(n >= 1 for n in cfg.tokenizer_steps.values())
    table = REGISTRY.suite(REGISTRY.demo().suite)
    installed = {m for t in table.tasks for m in t.modalities}
    suite = demo_suite(sorted(installed), [REGISTRY.chain(c) for c in cfg.chains], table=table,
                       eval_tasks=REGISTRY.demo().eval_tasks, extra_tasks=cfg.extra_tasks)
    names = {t.name for t in suite.tasks}
    for editing in REGISTRY.editing_chains.values():  # archon edit can run on the recipe's model
        for step in editing.chain.steps:
            if step.inputs is not None:
                assert any(set(t.inputs) == set(step.inputs) and t.output == step.output for t in suite.tasks), step
    for chain in cfg.chains:  # every step of every chain has its task in the suite
        for step in REGISTRY.chain(chain).steps:
            if step.inputs is not None:
                assert any(set(t.inputs) == set(step.inputs) and t.output == step.output for t in suite.tasks), (chain, step)
    assert len(names) == len(suite.tasks)


def test_a_recipe_may_train_a_task_outside_its_suite(tmp_path, installed_registry):
    registry = installed_registry
    first_frame = "image(t)+expression(t)->semantic(t)"  # not in Table G: the chain's step on its first frame
    table = registry.suite(registry.demo().suite)
    assert first_frame not in {t.name for t in table.tasks}
    path = tmp_path / "r.toml"
    path.write_text(f'name = "r"\n[demo]\nlm_steps = 5\nchains = ["text-to-all"]\n'
                    f'extra_tasks = ["{first_frame}", "script(c)+speech(p)->speech(c)"]\n')
    cfg = load_recipe(path, registry).demo_config("runs/x")
    installed = [m for m, mod in registry.modalities.items() if not mod.rendered]
    suite = demo_suite(installed, [registry.chain(c) for c in cfg.chains], table=table, extra_tasks=cfg.extra_tasks)
    names = [t.name for t in suite.tasks]
    assert first_frame in names and "script(c)+speech(p)->speech(c)" in names and len(set(names)) == len(names)
    chain_only = demo_suite(installed, [registry.chain("text-to-all")], table=table)
    assert set(names) - {t.name for t in chain_only.tasks} == {first_frame, "script(c)+speech(p)->speech(c)"}
    # a suite task spelt with spaces is the suite's own task (its weight kept), not a copy
    spelt = extra_task(" script(c) + speech(p) -> speech(c)", table, installed)
    assert any(spelt is t for t in table.tasks) and spelt.name == "script(c)+speech(p)->speech(c)"
    with pytest.raises(TaskError, match=r"extra_tasks: image\(t\)\+expression\(t\)->semantic\(t\): no modality 'image'"):
        demo_suite([m for m in installed if m != "image"], [registry.chain("text-to-all")], table=table,
                   extra_tasks=[first_frame])


@pytest.mark.parametrize(("text", "match"), [
    ('name = "r"\nbogus = 1\n', "unknown key.*bogus"),
    ('name = "r"\n[demo]\nclips = 8\n', "lm_steps is required"),
    ('name = "r"\n[demo]\nlm_steps = 5\nwhatever = 2\n', r"\[demo\] has unknown key.*whatever"),
    ('name = "r"\n[demo]\nlm_steps = 5\n[demo.tokenizer_steps]\nspeech = 2.5\n', "tokenizer_steps.speech"),
    ('name = "r"\n[demo\n', "not valid TOML"),
    ('name = "r"\n[demo]\nlm_steps = 5\nextra_tasks = ["nope->speech(c)"]\n',
     r"\[demo\]: extra_tasks: 'nope->speech\(c\)' is not a task of the suite 'archon72'.*cannot parse slot 'nope'"),
    ('[demo]\nlm_steps = 5\n', "name must be"),
    ('name = "r"\n[demo]\nlm_steps = 5\nchains = ["text-to-all"]\nchain_weights = { video-to-all = 2.0 }\n',
     r"\[demo\]: chain_weights video-to-all not among the chains the LM trains \(text-to-all\)"),
])
def test_a_bad_recipe_is_refused_naming_the_file_and_field(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_recipe(path, REGISTRY)
    with pytest.raises(ConfigError, match="no recipe named 'nope'"):
        load_recipe("nope", REGISTRY)


@pytest.mark.parametrize(("task", "match"), [
    ("no_such_thing(c)->speech(c)", r"extra_tasks: no_such_thing\(c\)->speech\(c\): no modality 'no_such_thing' is installed"),
    ("speech(c)->video(c)", r"extra_tasks: speech\(c\)->video\(c\): 'video' is rendered by its decoder"),
])
def test_an_extra_task_the_lm_cannot_train_is_refused_naming_it(tmp_path, installed_registry, task, match):
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "r"\n[demo]\nlm_steps = 5\nextra_tasks = ["{task}"]\n')
    with pytest.raises(ConfigError, match=rf"bad.toml: \[demo\]: {match}"):
        load_recipe(path, installed_registry)


def test_learning_curves_plot_each_target_modality(tmp_path):
    pytest.importorskip("matplotlib")
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps({"step": s, "ce": 5.0 / s, "modality_ce": {"speech": 6.0 / s, "image": 4.0 / s}}) + "\n"
                               for s in range(1, 6)))
    png = plot_learning_curves(metrics, tmp_path / "curves.png")
    assert png is not None and png.stat().st_size > 1000
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert plot_learning_curves(empty, tmp_path / "none.png") is None


def test_the_page_says_loudly_which_stage_is_undertrained(tmp_path):
    stages = [{"stage": "speech: speech codec", "steps": 1, "min_steps": 200, "compile_s": 70.0, "train_s": 2.0,
               "below_min": True},
              {"stage": "language model (tiny)", "steps": 300, "min_steps": 200, "compile_s": 9.0, "train_s": 50.0,
               "below_min": False}]
    page = write_page(tmp_path / "index.html", "t", "intro", [], ["speech"], (), stages).read_text()
    assert "1 training stage(s) stopped below their minimum step count: speech: speech codec" in page
    assert page.count("BELOW MINIMUM") == 1 and "language model (tiny)" in page


def test_chain_weights_multiply_the_weights_of_their_steps_tasks():
    recipe = load_recipe("cpu-reference", REGISTRY)
    cfg = recipe.demo_config("runs/x")
    table = REGISTRY.suite(REGISTRY.demo().suite)
    installed = sorted({m for t in table.tasks for m in t.modalities})
    chains = [REGISTRY.chain(c) for c in cfg.chains]
    plain = demo_suite(installed, chains, table=table)
    weighted = demo_suite(installed, chains, table=table, chain_weights={"text-to-all": 3.0})
    assert [t.name for t in plain.tasks] == [t.name for t in weighted.tasks]
    text_to_all = {(frozenset(s.inputs), s.output) for s in REGISTRY.chain("text-to-all").steps if s.inputs is not None}
    for task, w0, w1 in zip(plain.tasks, plain.weights, weighted.weights):
        factor = 3.0 if (frozenset(task.inputs), task.output) in text_to_all else 1.0
        assert w1 == pytest.approx(factor * w0), task.name
    with pytest.raises(TaskError, match="chain_weights: nope not among the demo's chains"):
        demo_suite(installed, chains, table=table, chain_weights={"nope": 2.0})
    # the coarse-FLAME experiment's recipe (docs/eval) weighs the two chains issue 20 judges
    coarse = load_recipe(str(Path(__file__).parents[1] / "docs" / "eval" / "cpu-reference-coarse.toml"), REGISTRY)
    coarse_cfg = coarse.demo_config("runs/x")
    assert coarse.name == "cpu-reference-coarse" and set(coarse_cfg.chains) == _PAPER_CHAINS
    assert set(coarse_cfg.chain_weights) == {"text-to-all", "speech-to-video"}
    assert coarse_cfg.tokenizer_options["expression"] == {"codebook_size": 256}
    # the code-vector experiment: a mixed dataset the registry provides, options the LM config takes
    codevec = load_recipe(str(Path(__file__).parents[1] / "docs" / "eval" / "cpu-reference-codevec.toml"), REGISTRY)
    cfg = codevec.demo_config("runs/x")
    from archon_synthetic_heads._plugin import dataset_specs

    assert cfg.dataset in {s.name for s in dataset_specs()} and set(cfg.chains) == _PAPER_CHAINS
    assert (cfg.lm_config, cfg.lm_embed_init, cfg.lm_loss) == ("small_timed", "codebook", "level")
    # its successor: one window a step, twice the tokens, the judged chains 6x
    b1 = load_recipe(str(Path(__file__).parents[1] / "docs" / "eval" / "cpu-reference-b1.toml"), REGISTRY).demo_config("runs/x")
    assert (b1.batch_size, b1.lm_steps * b1.batch_size) == (1, 2 * cfg.lm_steps * cfg.batch_size)
    assert attrs.evolve(b1, batch_size=cfg.batch_size, lm_steps=cfg.lm_steps, lm_min_steps=cfg.lm_min_steps,
                        chain_weights=cfg.chain_weights) == cfg
    # the 90-minute cut: the shipped recipe's clips and stages at fewer steps, the LM as b1 trains it
    cut = load_recipe(str(Path(__file__).parents[1] / "docs" / "eval" / "cpu-reference-90min.toml"), REGISTRY)
    cut_cfg, ref = cut.demo_config("runs/x"), load_recipe("cpu-reference", REGISTRY).demo_config("runs/x")
    assert cut_cfg.clips == ref.clips and set(cut_cfg.chains) == _PAPER_CHAINS
    assert set(cut_cfg.tokenizer_steps) == set(ref.tokenizer_steps)
    assert all(cut_cfg.tokenizer_steps[m] < ref.tokenizer_steps[m] for m in ref.tokenizer_steps)
    assert (cut_cfg.lm_config, cut_cfg.lm_embed_init, cut_cfg.lm_loss, cut_cfg.batch_size) == (b1.lm_config, b1.lm_embed_init,
                                                                                                b1.lm_loss, b1.batch_size)


@pytest.mark.parametrize(("field", "value", "match"), [
    ("chain_weights", {"text-to-all": 0}, "chain_weights.text-to-all must be a number > 0"),
    ("chain_weights", {"text-to-all": "3"}, "chain_weights.text-to-all must be a number > 0"),
    ("tokenizer_options", {"expression": 256}, "tokenizer_options.expression must be a table"),
])
def test_bad_chain_weights_and_tokenizer_options_are_refused_by_name(field, value, match):
    with pytest.raises(ConfigError, match=match):
        DemoConfig(**{field: value})


def test_only_trainers_that_take_options_are_given_them():
    from archon_framework.infer._demo import _takes_options

    def plain(source, *, out_dir, steps=None, seconds=None, seed=0, progress=True):
        return {}

    def with_options(source, *, out_dir, options=None, **rest):
        return {}

    assert not _takes_options(plain) and _takes_options(with_options)
    assert _takes_options(lambda source, **kw: {})


_DOCS_EVAL = Path(__file__).parents[1] / "docs" / "eval"


def _with_video():
    from archon_video_walt import _plugin as video

    return make_registry(("paper", paper), ("video_walt", video))


@pytest.mark.parametrize("source", ["cpu-reference", *sorted(p.name for p in _DOCS_EVAL.glob("*.toml"))])
def test_a_recipes_video_steps_give_both_video_stages_their_minimum(source):
    # the 90-minute cut's first measured run gave the video autoencoder 90 of `video = 300` steps
    # (its 30% share), below its minimum of 100: every recipe's counts hold before a run is spent on them
    registry = _with_video()
    recipe = load_recipe(str(_DOCS_EVAL / source) if source.endswith(".toml") else source, registry)
    steps = recipe.demo_config("runs/x").tokenizer_steps["video"]  # every recipe trains the video decoder (issue 20)
    stages = registry.modalities["video"].trainer_stages(steps, None)
    assert set(stages) == {"video autoencoder", "video denoiser"}
    assert sum(k for k, _ in stages.values()) == steps
    assert all(k >= least for k, least in stages.values()), (source, stages)


def test_a_recipe_leaving_a_trainer_stage_below_its_minimum_is_refused_when_it_loads(tmp_path):
    text = (_DOCS_EVAL / "cpu-reference-90min.toml").read_text()
    assert "video = 340" in text
    bad = tmp_path / "cut.toml"
    bad.write_text(text.replace("video = 340", "video = 300"))  # what the cut's measured run had
    with pytest.raises(ConfigError, match=r"cut\.toml: \[demo\.tokenizer_steps\]: video = 300 gives the video autoencoder "
                                          r"stage 90 steps, below its minimum of 100; give at least 332"):
        load_recipe(bad, _with_video())
    load_recipe(bad, REGISTRY)  # without the plugin that trains video there is nothing to check
    bad.write_text(text + '\n[demo.tokenizer_options.video]\nae_fraction = 0.5\n')
    with pytest.raises(ConfigError, match=r"cut\.toml: \[demo\.tokenizer_steps\]: video: .*takes no options, got ae_fraction"):
        load_recipe(bad, _with_video())


def test_archon_demo_train_refuses_tokenizer_steps_below_a_stage_minimum_before_any_work(tmp_path):
    from archon_framework.infer._demo import run_demo

    cfg = DemoConfig(out=str(tmp_path / "demo"), tokenizer_steps={"video": 300}, progress=False)
    with pytest.raises(ConfigError, match=r"^demo: tokenizer_steps: video = 300 gives the video autoencoder stage 90 "
                                          r"steps, below its minimum of 100; give at least 332$"):
        run_demo(cfg, _with_video())
    assert not (tmp_path / "demo").exists()  # refused before the data stage


def test_a_recipes_evaluation_report_names_the_command_that_ran_it(tmp_path, monkeypatch):
    # a recipe given as a .toml path: its report must not say `--recipe NAME`, which is not installed
    import archon_framework.eval as eval_module
    from archon_framework.infer._recipe import _evaluate

    seen: dict = {}

    def fake_run_eval(**kwargs):
        seen.update(kwargs)
        return {"md": tmp_path / "r.md"}, None

    monkeypatch.setattr(eval_module, "run_eval", fake_run_eval)
    recipe = load_recipe(str(_DOCS_EVAL / "cpu-reference-90min.toml"), REGISTRY)
    command = f"archon pretrain --recipe {_DOCS_EVAL / 'cpu-reference-90min.toml'} --out {tmp_path}"
    assert _evaluate(recipe, REGISTRY, tmp_path, progress=False, console=None, command=command) == {"md": str(tmp_path / "r.md")}
    assert seen["command"] == command and seen["heldout"] == 12 and seen["checkpoint"] == tmp_path / "model"


def test_a_recipe_run_without_a_command_names_one_for_its_model_report_and_record(tmp_path, monkeypatch):
    import archon_framework.eval as eval_module
    from archon_framework.infer import _recipe

    seen: dict = {}

    def fake_demo(cfg, registry, console):
        (tmp_path / "demo.json").write_text(json.dumps({"stages": [], "timings_s": {}}))

    def fake_export(recipe, registry, out, *, command):
        seen["export"] = command
        return out / "model" / "model.json"

    def fake_run_eval(**kwargs):
        seen["eval"] = kwargs["command"]
        return {"md": tmp_path / "r.md"}, None

    monkeypatch.setattr(_recipe, "run_demo", fake_demo)
    monkeypatch.setattr(_recipe, "export_recipe_model", fake_export)
    monkeypatch.setattr(_recipe, "plot_learning_curves", lambda metrics, png: None)
    monkeypatch.setattr(eval_module, "run_eval", fake_run_eval)
    recipe = load_recipe(str(_DOCS_EVAL / "cpu-reference-90min.toml"), REGISTRY)
    record = json.loads(_recipe.run_recipe(recipe, REGISTRY, tmp_path, progress=False).read_text())
    named = f"archon pretrain --recipe cpu-reference-90min --out {tmp_path}"
    assert seen == {"export": named, "eval": named} and record["command"] == named
