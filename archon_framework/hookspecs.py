"""The pluggy hook specifications every archon plugin may implement.

A plugin is a module (or object) registered in the entry-point group ``archon`` whose functions
named after these specs are marked with :data:`hookimpl`. Every hook is optional.

How the core calls them. :func:`archon_framework.load_registry` loads each plugin (guarded: a
plugin that fails to import is recorded in ``Registry.failures`` and skipped), then calls every
hook **once**, plugin by plugin in registration order, with keyword arguments only (so a spec
can gain arguments without breaking older plugins; today none takes any). Each returns a
**list**; ``None`` counts as an empty list. A hook that raises, or returns a string or anything
that is not iterable, is a failure of that plugin alone (stage = the hook's name); an item of
the wrong type is a failure too (stage ``"<kind> declaration"``). The core tags each item with
the plugin that returned it, then builds the frozen :class:`archon_framework.Registry`; a name
claimed by two plugins leaves both out, each reported with a message naming the other.

So hooks must be cheap and pure: they run on every ``archon`` command and every
``load_registry()``; build heavy things (models, files) lazily, in the factories they return.

Example:
    ```python
    # archon_my_plugin/_plugin.py, registered in pyproject.toml:
    #   [project.entry-points.archon]
    #   my_plugin = "archon_my_plugin._plugin"
    from archon_framework import hookimpl

    @hookimpl
    def archon_modalities():
        return [BREATHING]  # an archon_framework.Modality
    ```
"""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT_NAME", "hookspec", "hookimpl", "ArchonHookSpecs"]

#: The pluggy project name and the entry-point group plugins register in.
PROJECT_NAME = "archon"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class ArchonHookSpecs:
    """Hook specifications (the namespace pluggy reads); see the module docstring for how they are called."""

    # ------------------------------------------------------------------ modalities
    @hookspec
    def archon_modalities(self):
        """Declare the modalities this plugin provides.

        Called once per registry load. Each modality's name and prompt phrase must be unique
        across installed plugins, and a vocabulary shared by several modalities (``text``) must
        have one size everywhere. The vocabulary layout (global id ranges) is allocated from
        these declarations, so the list decides which token ids exist.

        Returns:
            list[archon_framework.Modality]: one per modality. Its tokenizer factory (a rendered
                modality's ``renderer`` factory) is called later and lazily, by
                ``Registry.tokenizer(name)`` (``Registry.renderer(name)``), which checks the
                capabilities the tokenizer declares once; never by the hook itself.

        Example:
            ```python
            @hookimpl
            def archon_modalities():
                # a 10 Hz signal, one token per sample (docs/plugin-tutorial.md builds it)
                return [Modality(name="breathing", vocabulary=Vocabulary("breathing", 64),
                                 temporal=True, phrase="breathing signal",
                                 raw=RawSpec(kind="array", dtype="float32", shape=(None,)),
                                 num_tokens=lambda meta: round(meta.duration * 10),
                                 tokenizer=lambda artifact_dir: BreathingTokenizer(),
                                 window=breathing_window)]  # cuts a value at its own rate
            ```
        """

    # ------------------------------------------------------------------ tasks
    @hookspec
    def archon_task_suites(self):
        """Declare named task suites (sets of tasks with sampling weights).

        Called once per registry load. Suites are looked up by name by ``archon train``
        (``[data] suite``), ``archon list-tasks --suite NAME`` and ``archon eval``; a suite may
        name modalities that are not installed (they are filtered out when it is used).

        Returns:
            list[archon_framework.TaskSuite]: names unique across installed plugins.

        Example:
            ```python
            @hookimpl
            def archon_task_suites():
                tasks = (parse_task("speech(c)->breathing(c)"), parse_task("breathing(c)->speech(c)"))
                return [TaskSuite("breathing", tasks)]  # uniform weights
            ```
        """

    # ------------------------------------------------------------------ data
    @hookspec
    def archon_datasets(self):
        """Declare datasets: deterministic clip generators (or readers) by name.

        Called once per registry load; a dataset's ``generate`` runs when ``archon data synth
        --dataset NAME`` asks for clips, ``generate(index, seed=, seconds=)`` returning the
        same `Clip` for the same ``(seed, index)``.

        Returns:
            list[archon_framework.DatasetSpec]: names unique across installed plugins.

        Example:
            ```python
            @hookimpl
            def archon_datasets():
                return [DatasetSpec(name="breathing_toy", generate=make_clip,
                                    modalities=("breathing", "speech"), default_seconds=2.0,
                                    description="sine-wave breathing with matching speech")]
            ```
        """

    @hookspec
    def archon_prepare_steps(self):
        """Declare steps of ``archon data prepare`` (raw videos -> clips of every modality).

        Called once per registry load. ``archon data prepare`` orders the installed steps by
        what they ``requires`` and ``produces`` (options under ``[steps.NAME]`` of its config)
        and runs ``step.run(ctx, work)`` once per video, in that order.

        Returns:
            list[archon_framework.PrepareStep]: names unique across installed plugins.

        Example:
            ```python
            @hookimpl
            def archon_prepare_steps():
                return [PrepareStep(name="breathing", requires=("audio",), produces=("breathing",),
                                    run=estimate_breathing, description="breathing from the audio")]
            ```
        """

    # ------------------------------------------------------------------ evaluation
    @hookspec
    def archon_metrics(self):
        """Declare evaluation metrics over one or more modalities.

        Called once per registry load. ``archon eval`` (and the demo's report) looks metrics up
        by name in ``Registry.metrics`` and calls ``metric.fn(prediction, reference, meta=meta)``
        once per held-out clip; an evaluation table that names a metric nobody installed is
        reported before any model compute.

        Returns:
            list[archon_framework.Metric]: names unique across installed plugins.

        Example:
            ```python
            @hookimpl
            def archon_metrics():
                return [Metric(name="breathing_rate_error", modalities=("breathing",),
                               fn=rate_error, higher_is_better=False,
                               description="absolute error of breaths per minute")]
            ```
        """

    @hookspec
    def archon_eval_tables(self):
        """Declare evaluation tables: rows of chains run on held-out clips, scored by metrics.

        Called once per registry load. ``archon eval --suite NAME`` (``all``: every installed
        table, in load order) runs each row's chain on every held-out clip with the row's
        models and scores the outputs with the installed metrics; ``columns`` come first in the
        report and are what the missing-metrics check looks for.

        Returns:
            list[archon_framework.EvalTable]: names unique across installed plugins.

        Example:
            ```python
            @hookimpl
            def archon_eval_tables():
                row = EvalRow("speech -> breathing", BREATHING_CHAIN)  # an archon_framework.Chain
                return [EvalTable(name="breathing", title="Breathing from speech", paper="-",
                                  rows=(row,), columns=("breathing_rate_error",),
                                  install="archon-breathing")]
            ```
        """

    @hookspec
    def archon_eval_defaults(self):
        """Declare what ``archon eval`` does when its options are left out.

        Called once per registry load. ``archon eval`` takes its control chains (every step
        against its shuffled-condition control), each output modality's main metric, the
        held-out dataset and the ``--guidance-scale`` chain from the installed defaults (the
        first that sets each); ``archon demo`` scores its outputs by the same main metrics.

        Returns:
            list[archon_framework.EvalDefaults]: names unique across installed plugins.

        Example:
            ```python
            @hookimpl
            def archon_eval_defaults():
                return [EvalDefaults(name="breathing", control_chains=("speech-to-breathing",),
                                     main_metrics={"breathing": "breathing_rate_error"},
                                     heldout_dataset="breathing_toy")]
            ```
        """

    # ------------------------------------------------------------------ inference
    @hookspec
    def archon_chains(self):
        """Declare named generation chains and editing chains.

        Called once per registry load. ``archon generate --chain NAME`` and
        ``archon list-chains`` read ``Registry.chains`` (a `Chain`); ``archon edit`` reads
        ``Registry.editing_chains`` (an `EditingChain`). Each step's task must be trained for
        the chain to run; ``plan_chain`` names a missing one before any compute.

        Returns:
            list[archon_framework.Chain | archon_framework.EditingChain]: names unique across
                installed plugins (chains and editing chains share one namespace).

        Example:
            ```python
            @hookimpl
            def archon_chains():
                return [Chain("speech-to-breathing", chain_slots("speech(c)"),
                              chain_steps("speech(c)->breathing(c)"),
                              description="breathing from speech")]
            ```
        """

    @hookspec
    def archon_demos(self):
        """Declare demos: which chains ``archon demo`` runs on held-out clips, from which data.

        Called once per registry load. ``archon demo`` and ``archon pretrain`` run the first
        installed demo: they synthesize its datasets, train on the suite tasks its chains use
        (with ``--train``), run each chain on the held-out clips and write the page.

        Returns:
            list[archon_framework.DemoSpec]: names unique across installed plugins.

        Example:
            ```python
            @hookimpl
            def archon_demos():
                return [DemoSpec(name="breathing", suite="breathing", dataset="breathing_toy",
                                 heldout_dataset="breathing_toy",
                                 chains=[("speech-to-breathing", ("speech",), "from speech")])]
            ```
        """

    @hookspec
    def archon_recipes(self):
        """Declare training recipes (TOML files of step counts and seeds).

        Called once per registry load. ``archon pretrain --recipe NAME`` reads the file and
        runs the demo's stages by it; ``archon pretrain --list`` lists the installed recipes.

        Returns:
            list[archon_framework.RecipeFile]: names unique across installed plugins.

        Example:
            ```python
            @hookimpl
            def archon_recipes():
                folder = importlib.resources.files("archon_breathing") / "recipes"
                return [RecipeFile(name="breathing-cpu", path=folder / "breathing-cpu.toml")]
            ```
        """

    # ------------------------------------------------------------------ command line
    @hookspec
    def archon_commands(self):
        """Add sub-commands to the ``archon`` command line.

        Called once per registry load; the ``archon`` console script loads the registry when
        it starts (before it parses its arguments), so the apps must be cheap to build. Each
        app is mounted as
        ``archon NAME ...``, its help prefixed with the plugin's name; an item that is not a
        named ``typer.Typer`` is ignored with a warning.

        Returns:
            list[typer.Typer]: each created with ``name=``; commands report errors by
                exiting with a non-zero code, never with a traceback.

        Example:
            ```python
            @hookimpl
            def archon_commands():
                app = typer.Typer(name="breathing", help="Breathing tools.")

                @app.command("plot")
                def plot(path: Path) -> None:
                    ...

                return [app]  # archon breathing plot PATH
            ```
        """

    # ------------------------------------------------------------------ provenance
    @hookspec
    def archon_provenance_steps(self):
        """Declare a plugin's own watermark or provenance mark for the modalities it owns.

        Called once per registry load. ``archon generate`` calls
        ``step.mark(value, modality=, meta=)`` on each generated value of the step's modalities
        before writing it; ``archon verify`` calls ``step.detect(path)`` on written files and
        reports what it finds (docs/provenance.md).

        Returns:
            list[archon_framework.provenance.ProvenanceStep]: names unique across installed
                plugins; ``mark`` keeps the value's type, dtype and shape.

        Example:
            ```python
            @hookimpl
            def archon_provenance_steps():
                return [ProvenanceStep(name="breathing_mark", modalities=("breathing",),
                                       mark=embed_mark, detect=read_mark,
                                       description="a low-amplitude tag in the signal")]
            ```
        """
