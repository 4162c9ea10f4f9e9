"""Versioned metric definitions in the eval report: written with each score, compared between reports."""

from __future__ import annotations

import json

import pytest

from archon_framework import Metric
from archon_framework.eval import (
    EvalResult,
    EvalRow,
    EvalTable,
    MetricScores,
    RowResult,
    TableResult,
    compare_reports,
    definition_id,
    metric_definition,
    report_json,
    write_report,
)
from archon_paper import IMAGE_TO_SPEECH, TABLE1, TABLE2


def _metric(name: str, version: str | None, *, higher: bool = True) -> Metric:
    def fn(prediction, reference, *, meta):
        return 0.5

    if version is not None:
        fn.archon_definition = lambda: {"models": [{"package": "pkg", "version": version,
                                                    "files": {"m.onnx": "ab" * 32}}],
                                        "parameters": {"window": 3}}
    return Metric(name=name, modalities=("speech",), fn=fn, higher_is_better=higher, description=f"{name} test")


def _result(metrics: list[Metric]) -> EvalResult:
    table = EvalTable(name="t", title="T", paper="Tab. x", rows=(EvalRow("row", IMAGE_TO_SPEECH),),
                      columns=tuple(m.name for m in metrics), proxies=(metrics[-1].name,))
    values = {m.name: 0.5 for m in metrics}
    scores = MetricScores(mean=values, stderr={}, count={k: 1 for k in values}, set_level={}, set_count={},
                          per_clip=(values,), errors={})
    row = RowResult(row=table.rows[0], status="ok", scores=scores, clips=1, valid={"speech": 1})
    return EvalResult(tables=(TableResult(table=table, rows=(row,)),), metrics={m.name: m for m in metrics})


def test_a_definition_is_read_from_the_fn_and_a_broken_one_is_reported():
    assert metric_definition(_metric("plain", None)) is None
    assert metric_definition(_metric("model", "1.0"))["models"][0]["version"] == "1.0"
    broken = _metric("broken", None)
    broken.fn.archon_definition = lambda: 1 / 0
    assert "ZeroDivisionError" in metric_definition(broken)["unavailable"]


def test_definition_ids_are_stable_and_change_with_any_field():
    a = metric_definition(_metric("m", "1.0"))
    assert definition_id(a) == definition_id(json.loads(json.dumps(a))) and len(definition_id(a)) == 12
    assert definition_id(a) != definition_id(metric_definition(_metric("m", "1.1")))
    assert definition_id(None) is None


def test_the_report_writes_each_definition_and_marks_the_proxies():
    result = _result([_metric("model_score", "1.0"), _metric("proxy_score", None)])
    data = report_json(result)
    assert data["metrics"]["model_score"]["definition"]["parameters"] == {"window": 3}
    assert data["metrics"]["model_score"]["definition_id"] == definition_id(data["metrics"]["model_score"]["definition"])
    assert "definition" not in data["metrics"]["proxy_score"]


def test_a_second_report_says_where_its_definitions_differ(tmp_path):
    write_report(_result([_metric("model_score", "1.0"), _metric("proxy_score", None)]), tmp_path, plot=False)
    paths = write_report(_result([_metric("model_score", "1.0"), _metric("proxy_score", None)]), tmp_path, plot=False)
    same = paths["md"].read_text()
    assert "metric definitions are the same as in" in same and "`model_score` (proxy)" not in same
    assert "`proxy_score` (proxy)" in same and definition_id(
        metric_definition(_metric("m", "1.0"))) in same
    paths = write_report(_result([_metric("model_score", "2.0"), _metric("proxy_score", None)]), tmp_path, plot=False)
    notes = json.loads(paths["json"].read_text())["notes"]
    (line,) = [n for n in notes if n.startswith("not comparable")]
    assert "model_score" in line and "'1.0' -> '2.0'" in line and "version" in line


def test_compare_reports_names_a_definition_present_in_only_one():
    old = report_json(_result([_metric("model_score", "1.0"), _metric("proxy_score", None)]))
    new = report_json(_result([_metric("model_score", None), _metric("proxy_score", None)]))
    assert compare_reports(old, old) == []
    assert compare_reports(old, new) == ["model_score: a definition in only the previous report"]


@pytest.mark.parametrize("table", [TABLE1, TABLE2])
def test_the_main_columns_come_first_and_the_proxies_are_named(table):
    main = [c for c in table.columns if c not in table.proxies]
    assert main and set(table.proxies) < set(table.columns)
    assert list(table.columns[:len(main)]) == main  # main columns before the proxies


def test_table2_has_the_ground_truth_ceiling():
    assert [r.models for r in TABLE2.rows].count("ground-truth") == 1
    assert {"speech_wer", "voice_speaker_id_accuracy"} <= set(TABLE2.columns) - set(TABLE2.proxies)


def test_a_metric_scored_in_one_report_only_is_named():
    old = report_json(_result([_metric("proxy_score", None)]))
    new = report_json(_result([_metric("model_score", "1.0"), _metric("proxy_score", None)]))
    assert compare_reports(old, new) == ["model_score: scored in only the current report"]
    assert compare_reports(new, old) == ["model_score: scored in only the previous report"]
