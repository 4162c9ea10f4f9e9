"""Chained generation: restricted ranges, cache equivalence, chain order, refusals, editing,
per-position token ranges, automatic chain choice and output files (toy modalities)."""

from __future__ import annotations

import io

import attrs
import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archon_framework import ClipMeta, Modality, PluginError, RawSpec, RawValueError, Slot, TaskError
from archon_framework._prompt import Payload
from archon_framework.infer import (
    Chain,
    ChainStep,
    Ids,
    StepRanges,
    choose_chain,
    downstream,
    edit,
    generate,
    plan_chain,
    step_ranges,
    write_outputs,
)
from archon_framework.infer._lm_steps import decode_fixed
from archon_framework.infer._outputs import label_palette, write_value
from archon_framework.model import Sampling, generate_tokens_uncached
from test_infer_kit import CODES, DIRECT, LEVELS, META, SUITE, THINK, LevelTokenizer, ToyRenderer, s, toy_clip, toy_model

GREEDY = Sampling(greedy=True)
HOT = Sampling(temperature=5.0)


@pytest.fixture(scope="module")
def model():
    return toy_model()


@pytest.fixture(scope="module")
def clip():
    return toy_clip(0)


@pytest.fixture(scope="module")
def conds(clip):
    return {"speech": clip["speech"], "image": clip["image"]}


@pytest.fixture(scope="module")
def think(model, conds):
    return generate(model, conds, THINK, meta=META, seed=3, sampling=HOT)


# ---------------------------------------------------------------------- restricted ranges
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), width=st.sampled_from([3, 40]), data=st.data())
def test_restricted_decoding_never_leaves_the_target_range(model, seed, width, data):
    vocab = model.lm.embedding.shape[0]
    n = 6
    starts = np.asarray(data.draw(st.lists(st.integers(0, vocab - width), min_size=n, max_size=n)), np.int32)
    rng = np.random.default_rng(seed)
    prompt = rng.integers(0, vocab, 20).astype(np.int32)
    ranges = StepRanges(starts, width)
    ids = decode_fixed(model.lm, prompt, ranges, jax.random.key(seed), HOT)
    assert ids.shape == (n,)
    assert ranges.contains(ids).all(), (ids, starts, width)


def _prompt_for(model, slot_inputs, out, n):
    return model.serializer.serialize(slot_inputs, out, target_tokens=n).tokens


def test_greedy_with_and_without_kv_cache_agree(model, clip):
    speech = model.tokenizer("speech").encode(clip["speech"], meta=META)
    payload = Payload(s("speech(c)"), model.layout.range("speech").to_global(speech))
    for out, tok in ((s("expression(c)"), model.tokenizer("expression")), (s("identity(t)"), LevelTokenizer())):
        mod = model.registry.modality(out.modality)
        n = mod.token_count(META)
        prompt = _prompt_for(model, [payload], out, n)
        ranges = step_ranges(tok, model.layout.range(mod.vocabulary), n, modality=out.modality)
        key = jax.random.key(0)
        cached = decode_fixed(model.lm, prompt, ranges, key, GREEDY)  # padded bucket, traced length
        uncached = generate_tokens_uncached(model.lm, jax.numpy.asarray(prompt), num_tokens=n, key=key, sampling=GREEDY,
                                     vocab_size=ranges.width, block_starts=jax.numpy.asarray(ranges.starts))
        np.testing.assert_array_equal(cached, np.asarray(uncached))


def test_chain_steps_equal_uncached_decoding_of_their_serialized_prompts(model, conds):
    """Greedy chain: every LM step's ids are what a no-cache decode of its own prompt gives,
    where the prompt holds exactly the task inputs taken from the conditions and earlier steps."""
    result = generate(model, conds, THINK, meta=META, sampling=GREEDY)
    known = {s("speech(c)"): model.layout.range("speech").to_global(model.tokenizer("speech").encode(conds["speech"], meta=META)),
             s("image(t)"): model.layout.range("image").to_global(model.tokenizer("image").encode(conds["image"], meta=META))}
    for step in result.steps:
        if step.kind != "generated" or model.serializer.is_text(step.output.modality):
            if step.global_ids is not None:
                known[step.output] = step.global_ids
            continue
        mod = model.registry.modality(step.output.modality)
        n = mod.token_count(META)
        prompt = _prompt_for(model, [Payload(i, known[i]) for i in step.inputs], step.output, n)
        parsed = model.serializer.parse(prompt, len(prompt))
        assert [p.slot for p in parsed.inputs] == list(step.inputs)
        ranges = step_ranges(model.tokenizer(step.output.modality), model.layout.range(mod.vocabulary), n, modality=mod.name)
        ref = generate_tokens_uncached(model.lm, jax.numpy.asarray(prompt), num_tokens=n, key=jax.random.key(0), sampling=GREEDY,
                                vocab_size=ranges.width, block_starts=jax.numpy.asarray(ranges.starts))
        np.testing.assert_array_equal(step.global_ids, np.asarray(ref))
        known[step.output] = step.global_ids


# ---------------------------------------------------------------------- chain order and planning
def test_chain_order_is_respected(model, conds):
    seen = []
    result = generate(model, conds, THINK, meta=META, seed=3, sampling=HOT, on_step=lambda i, n, r: seen.append((i, n, r.output)))
    assert [o for _, _, o in seen] == list(THINK.outputs) == [r.output for r in result.steps]
    assert [i for i, _, _ in seen] == list(range(len(THINK.steps)))
    available = set(result.conditions)
    for step in result.steps:
        assert set(step.inputs) <= available, f"{step.output} read something not yet available"
        available.add(step.output)
    assert [r.kind for r in result.steps] == ["generated", "generated", "generated", "rendered"]


def test_seeded_generation_is_reproducible_and_seed_dependent(model, conds, think):
    again = generate(model, conds, THINK, meta=META, seed=3, sampling=HOT)
    for a, b in zip(think.steps, again.steps, strict=True):
        if a.global_ids is not None:
            np.testing.assert_array_equal(a.global_ids, b.global_ids)
    other = generate(model, conds, THINK, meta=META, seed=4, sampling=HOT)
    assert any(not np.array_equal(a.global_ids, b.global_ids) for a, b in zip(think.steps, other.steps)
               if a.global_ids is not None and b.global_ids is not None)


def test_outputs_have_exact_token_counts_and_decode(model, think):
    expr = think.step("expression")
    assert expr.global_ids.shape == (model.registry.modality("expression").token_count(META),)
    assert expr.value.shape == (META.frames, 2) and expr.valid
    video = think.value("video")
    np.testing.assert_array_equal(video, ToyRenderer().render({"expression": expr.value, "image": think.value("image")}, meta=META, seed=3))


def test_automatic_steps_pick_the_largest_trained_task_preferring_generated_inputs(model):
    chain = Chain("auto", (s("speech(c)"), s("image(t)")), (s("identity(t)"), s("expression(c)")))
    plan = plan_chain(chain, modalities=model.registry.modalities, suite=SUITE, given=chain.conditions)
    assert [p.task.name for p in plan] == ["image(t)->identity(t)", "speech(c)+identity(t)->expression(c)"]


def test_a_missing_task_is_refused_before_any_compute(model, conds, monkeypatch):
    import archon_framework.infer._generate as g

    def boom(*args, **kwargs):
        raise AssertionError("decoding ran before the chain was checked")

    monkeypatch.setattr(g, "decode_fixed", boom)
    monkeypatch.setattr(g, "decode_until", boom)
    chain = Chain("bad", (s("speech(c)"), s("image(t)")), (
        ChainStep(s("identity(t)"), (s("image(t)"),)),
        ChainStep(s("expression(c)"), (s("image(t)"), s("identity(t)"))),
    ))
    with pytest.raises(TaskError, match=r"task image\(t\)\+identity\(t\)->expression\(c\) is not in the suite 'toy_infer'"):
        generate(model, conds, chain, meta=META)
    auto = Chain("bad-auto", (s("image(t)"),), (s("script(c)"),))
    with pytest.raises(TaskError, match=r"task image\(t\)->script\(c\) is not in the suite .*speech\(c\)->script\(c\)"):
        generate(model, {"image": conds["image"]}, auto, meta=META)
    with pytest.raises(TaskError, match=r"needs condition\(s\) image\(t\)"):
        generate(model, {"speech": conds["speech"]}, THINK, meta=META)
    with pytest.raises(TaskError, match="modality 'pose' is not installed"):
        generate(model, conds, "speech+image->pose", meta=META)


def test_bad_conditions_name_the_modality(model, conds):
    short = np.zeros((META.frames - 1, 2), np.float32)
    with pytest.raises(RawValueError, match=r"modality 'speech'.*expected shape \(4, 2\)"):
        generate(model, {**conds, "speech": short}, THINK, meta=META)
    with pytest.raises(RawValueError, match=r"condition speech\(c\): 5 token ids, but 'speech' takes 8"):
        generate(model, {**conds, "speech": Ids(np.zeros(5, np.int32))}, THINK, meta=META)
    with pytest.raises(TaskError, match="give a past condition as token ids"):
        generate(model, {**conds, "speech(p)": conds["speech"]}, THINK, meta=META)


def test_conditions_as_token_ids_give_the_same_generation(model, conds, think):
    ids = model.tokenizer("speech").encode(conds["speech"], meta=META)
    again = generate(model, {"speech": Ids(ids), "image": conds["image"]}, THINK, meta=META, seed=3, sampling=HOT)
    for a, b in zip(think.steps, again.steps):
        if a.global_ids is not None:
            np.testing.assert_array_equal(a.global_ids, b.global_ids)


# ---------------------------------------------------------------------- per-position ranges
def test_per_position_token_ranges_are_respected(model, conds):
    chain = Chain("id", (s("image(t)"),), (ChainStep(s("identity(t)"), (s("image(t)"),)),))
    start = model.layout.range("identity").start
    blocks = start + np.arange(LEVELS) * CODES
    for seed in range(12):
        res = generate(model, {"image": conds["image"]}, chain, meta=META, seed=seed, sampling=Sampling(temperature=50.0))
        ids = res.step("identity").global_ids
        assert np.all((ids >= blocks) & (ids < blocks + CODES)), ids
        assert res.step("identity").valid  # the level tokenizer refuses ids outside their block
    # Control: the same decoding over the whole identity range strays out of the blocks.
    whole = StepRanges(np.full(LEVELS, start, np.int32), LEVELS * CODES)
    prompt = np.arange(30, dtype=np.int32)
    strays = [decode_fixed(model.lm, prompt, whole, jax.random.key(k), Sampling(temperature=50.0)) for k in range(12)]
    assert any(np.any((ids < blocks) | (ids >= blocks + CODES)) for ids in strays)


def test_malformed_token_ranges_are_a_plugin_error(model):
    class Bad:
        def token_ranges(self, n):
            return np.array([[0, 4], [0, 5]])

    with pytest.raises(PluginError, match=r"modality 'identity': token_ranges\(2\) rows must all have one positive width"):
        step_ranges(Bad(), model.layout.range("identity"), 2, modality="identity")
    with pytest.raises(PluginError, match="must be an int array of shape"):
        step_ranges(Bad(), model.layout.range("identity"), 3, modality="identity")


# ---------------------------------------------------------------------- editing
def test_editing_speech_keeps_what_does_not_read_it(model, think):
    other = toy_clip(5)
    edited = edit(model, think, {"speech": other["speech"]})
    kinds = {str(r.output): r.kind for r in edited.steps}
    assert kinds == {"identity(t)": "kept", "expression(c)": "generated", "script(c)": "generated", "video(c)": "rendered"}
    np.testing.assert_array_equal(edited.step("identity").global_ids, think.step("identity").global_ids)
    fresh = generate(model, {"speech": other["speech"], "image": think.value("image")}, THINK, meta=META, seed=3, sampling=HOT)
    for a, b in zip(edited.steps, fresh.steps):  # an edit equals a fresh run with the new inputs
        if a.global_ids is not None:
            np.testing.assert_array_equal(a.global_ids, b.global_ids)


def test_editing_an_intermediate_output_regenerates_only_downstream(model, think):
    new_expr = toy_clip(9)["expression"]
    edited = edit(model, think, {"expression": new_expr})
    kinds = {str(r.output): r.kind for r in edited.steps}
    assert kinds == {"identity(t)": "kept", "expression(c)": "given", "script(c)": "kept", "video(c)": "rendered"}
    np.testing.assert_array_equal(edited.step("script").global_ids, think.step("script").global_ids)
    np.testing.assert_array_equal(edited.value("video"), ToyRenderer().render({"expression": new_expr, "image": think.value("image")}, meta=META, seed=3))
    assert downstream(think.plan, {s("image(t)")}) == {s("identity(t)"), s("expression(c)"), s("video(c)")}
    with pytest.raises(TaskError, match=r"edit: speech\(t\) is neither a condition nor an output"):
        edit(model, think, {"speech(t)": new_expr[:1]})


# ---------------------------------------------------------------------- choice and files
def test_automatic_chain_choice_reports_every_candidate(model, conds):
    best, scores = choose_chain(model, conds, [THINK, DIRECT, "script->speech"], meta=META, seed=1, sampling=HOT)
    assert [sc.chain for sc in scores][-1] == "script->speech" and scores[-1].perplexity == float("inf")
    assert "needs condition" in scores[-1].note
    assert best.chain.name == scores[0].chain and scores[0].perplexity <= scores[1].perplexity
    assert scores[0].perplexity >= 1.0 and all(sc.scored for sc in scores[:2])
    assert {sc.chain: sc.scored for sc in scores}["toy-direct"] == ("expression(c)->speech(c)",)


def test_write_outputs_files_manifest_and_overwrite(model, think, tmp_path):
    import json

    out = tmp_path / "gen"
    manifest = write_outputs(think, out, model.registry.modalities)
    data = json.loads(manifest.read_text())
    assert data["chain"] == "toy-think" and [st["slot"] for st in data["steps"]] == [str(o) for o in THINK.outputs]
    assert {"video.gif", "video.npz", "identity.npz", "script.txt", "tokens.npz"} <= {p.name for p in out.iterdir()}
    with np.load(out / "tokens.npz") as z:
        np.testing.assert_array_equal(z["expression(c)"], think.step("expression").global_ids)
    from PIL import Image

    gif = Image.open(out / "video.gif")
    assert gif.n_frames == META.frames
    from archon_framework import ConfigError

    with pytest.raises(ConfigError, match="exists; pass --overwrite"):
        write_outputs(think, out, model.registry.modalities)
    (out / "stale.txt").write_text("old")
    write_outputs(think, out, model.registry.modalities, overwrite=True)
    assert not (out / "stale.txt").exists() and (out / "manifest.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_write_value_picks_openable_formats(tmp_path):
    import soundfile as sf
    from PIL import Image

    meta = ClipMeta(clip_id="w", duration=0.5, frame_rate=10, sample_rate=8000)
    spec = lambda **kw: Modality(name="m", vocabulary=None, temporal=True, phrase="m", raw=RawSpec(kind="array", **kw),  # noqa: E731
                                 num_tokens=lambda m: None, tokenizer=lambda p: None, derived_from=("x",))
    wave = np.sin(np.linspace(0, 100, meta.samples)).astype(np.float32) * 0.5
    assert write_value(tmp_path, "speech", wave, spec(dtype="float32", shape=("samples",)), meta) == ["speech.wav", "speech.npz"]
    back, rate = sf.read(tmp_path / "speech.wav", dtype="float32")
    assert rate == 8000 and back.shape == wave.shape and np.abs(back - wave).max() < 1e-3
    img = np.random.default_rng(0).integers(0, 255, (16, 16, 3)).astype(np.uint8)
    stat = attrs.evolve(spec(dtype="uint8", shape=(16, 16, 3)), temporal=False)
    assert write_value(tmp_path, "image", img, stat, meta) == ["image.png", "image.npz"]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "image.png")), img)
    labels = np.random.default_rng(1).integers(0, 5, (5, 8, 8)).astype(np.uint8)
    files = write_value(tmp_path, "semantic", labels, spec(dtype="uint8", shape=("frames", 8, 8), value_range=(0, 4)), meta)
    assert files == ["semantic.gif", "semantic.npz"]
    frame = np.asarray(Image.open(tmp_path / "semantic.gif").convert("RGB"))
    np.testing.assert_array_equal(frame, label_palette(5)[labels[0]])
    assert len({tuple(c) for c in label_palette(21)}) == 21


def test_outputs_bytes_roundtrip_through_gif_reader(tmp_path):
    from PIL import Image

    meta = ClipMeta(clip_id="v", duration=0.3, frame_rate=10, sample_rate=100)
    frames = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3)).astype(np.uint8)
    mod = Modality(name="video", vocabulary=None, temporal=True, phrase="v", raw=RawSpec(kind="array", dtype="uint8", shape=("frames", 16, 16, 3)),
                   num_tokens=lambda m: None, tokenizer=lambda p: None, derived_from=("x",))
    files = write_value(tmp_path, "video", frames, mod, meta)
    assert "video.gif" in files and "video.npz" in files
    assert Image.open(io.BytesIO((tmp_path / "video.gif").read_bytes())).n_frames == 3


def test_slots_as_names_or_states(model, conds):
    a = plan_chain(THINK, modalities=model.registry.modalities, suite=SUITE, given=[Slot("speech", "c"), Slot("image", "t")])
    assert [str(p.output) for p in a] == ["identity(t)", "expression(c)", "script(c)", "video(c)"]
    with pytest.raises(TaskError, match="given twice"):
        generate(model, {"speech": conds["speech"], "speech(c)": conds["speech"], "image": conds["image"]}, THINK, meta=META)


def test_greedy_for_decodes_only_the_named_modality_greedily(model, conds, think):
    """`Sampling.greedy_for`: the named output is decoded as greedy decoding would, every other
    output as the sampled run (same seed, same keys), and the decoders never see the field."""
    mixed = HOT._replace(greedy_for=("script",))
    assert mixed.for_output("script") == HOT._replace(greedy=True)
    assert mixed.for_output("expression") == HOT
    both = generate(model, conds, THINK, meta=META, seed=3, sampling=mixed)
    greedy = generate(model, conds, THINK, meta=META, seed=3, sampling=GREEDY)
    for step in both.steps:
        if step.kind != "generated":
            continue
        ref = greedy if step.output.modality == "script" else think
        np.testing.assert_array_equal(step.global_ids, ref.step(step.output).global_ids, err_msg=str(step.output))
