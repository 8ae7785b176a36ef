"""The batch path (``evaluate_many`` / ``evaluate_points``, what a sweep runs) equals ``evaluate`` of each
point alone, every Result field to the last bit: the batch only prices the points' macros together
(``circuit.macro.layer_costs_many``), and each point is finished by the same code as ``evaluate``."""

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcsim.config.study import study_from_params
from imcsim.engine import evaluate, evaluate_many, evaluate_point, evaluate_points
from imcsim.engine.evaluation import clear_caches
from imcsim.errors import SpecError

DEVICES = ("sas-mram", "sot-mram", "reram", "sram", "pcm")


def canonical(result) -> str:
    """Every field of a Result (op records in full, the write summary's fields) as text: ``repr`` of a float
    is exact, so equal text means equal to the last bit (NaN included)."""
    out = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if f.name == "ops":
            value = [dataclasses.astuple(r) for r in value]
        elif dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        out[f.name] = value
    return repr(out)


def alone(params: dict) -> str:
    clear_caches()
    return canonical(evaluate(study_from_params(params)))


geometry = st.fixed_dictionaries({
    "device": st.sampled_from(DEVICES), "rows": st.sampled_from((32, 64, 128, 256)),
    "cols": st.sampled_from((32, 64, 128, 256)), "rows_parallel": st.sampled_from((8, 16, 32)),
    "column_mux": st.sampled_from((1, 2)), "chip.pipeline": st.sampled_from(("row", "layer"))},
    optional={"macro.input_bits_per_cycle": st.just(2), "macro.organisation": st.just("weight_column"),
              "chip.clock_mhz": st.sampled_from((250, 1000))})


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(geometry, min_size=2, max_size=6))
def test_a_batch_of_geometries_equals_each_point_evaluated_alone(points):
    points = [{"workload": "resnet18", **p} for p in points]
    clear_caches()
    batch = evaluate_many([study_from_params(p) for p in points])
    texts = [canonical(r) for r in batch]
    for p, text in zip(points, texts):
        assert text == alone(p)


training = st.fixed_dictionaries({
    "device": st.sampled_from(DEVICES), "rows": st.sampled_from((32, 64, 128)), "cols": st.sampled_from((32, 64)),
    "method": st.sampled_from(("full", "last", "lora", "bias")), "chip.pipeline": st.sampled_from(("row", "layer")),
    "write_policy": st.sampled_from(("all", "diff"))},
    optional={"backward": st.sampled_from(("digital", "transposed-copy")), "error_bits": st.just(16),
              "chip.cell_capacity_mibit": st.just(0.0625), "batch_size": st.just(2)})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(training, min_size=2, max_size=4))
def test_a_batch_of_training_points_equals_each_point_evaluated_alone(points):
    # methods, reloads (a small chip), backward modes, error widths: the points that are not plain MVM rows
    # are priced per point inside the batch, and mixed batches group by what they share
    points = [{"workload": "digits-cnn", "chip.tiles": 2, **p} for p in points]
    clear_caches()
    batch = evaluate_many([study_from_params(p) for p in points])
    for p, result in zip(points, batch):
        assert canonical(result) == alone(p)


options = st.fixed_dictionaries({
    "write_policy": st.sampled_from(("all", "diff")), "flip_prob": st.sampled_from((0.0, 0.25, 0.5)),
    "steps_per_day": st.sampled_from((100, 10000))})


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(options, min_size=2, max_size=5), st.sampled_from(("row", "layer")))
def test_a_batch_over_write_options_equals_each_point_evaluated_alone(points, pipeline):
    # inference prices alike under every write option: the points share their items, and the batch makes the
    # row estimate, the staging and the pool writes once for all of them (evaluation._priced_many)
    points = [{"workload": "resnet18", "rows": 64, "cols": 64, "chip.pipeline": pipeline, **p} for p in points]
    clear_caches()
    batch = evaluate_many([study_from_params(p) for p in points])
    texts = [canonical(r) for r in batch]
    for p, text in zip(points, texts):
        assert text == alone(p)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(geometry, min_size=1, max_size=3), st.lists(training, min_size=1, max_size=3))
def test_sweep_records_equal_the_summary_of_each_point_evaluated_alone(geometries, trainings):
    # a sweep record is made from a result without its description (evaluation._result, described=False):
    # it must equal the record of the full result, key order included
    from imcsim.engine.evaluation import _record

    points = ([{"workload": "resnet18", **p} for p in geometries]
              + [{"workload": "digits-cnn", "chip.tiles": 2, **p} for p in trainings])
    clear_caches()
    records = evaluate_points(points)
    for p, record in zip(points, records):
        clear_caches()
        study = study_from_params(p)
        want = _record(study, evaluate(study))
        assert repr(list(record.items())) == repr(list(want.items()))
        assert repr(list(evaluate_point(p).items())) == repr(list(want.items()))


def test_evaluate_points_gives_each_point_its_record_or_its_error():
    good = {"workload": "resnet18", "rows": 64, "cols": 64}
    other = {"workload": "resnet18", "rows": 128, "cols": 64, "device": "reram"}
    bad = {"workload": "resnet18", "rows": 64, "cols": 64, "rows_parallel": 65}   # more than the rows
    got = evaluate_points([good, bad, other])
    assert isinstance(got[1], SpecError)
    clear_caches()
    assert repr(got[0]) == repr(evaluate_point(good))
    assert repr(got[2]) == repr(evaluate_point(other))


def test_a_point_whose_shared_figures_fail_gets_its_error_and_the_others_their_records(monkeypatch):
    # the staging and the pool writes are made once per item list for the batch (_priced_many); a failure there
    # is that point's error (made again alone, in its own pricing), not the chunk's
    from imcsim.engine import evaluation

    real = evaluation.activation_staging

    def staging(ctx, priced):
        if ctx.macro.rows == 128:
            raise RuntimeError("staging failed")
        return real(ctx, priced)

    monkeypatch.setattr(evaluation, "activation_staging", staging)
    good = {"workload": "resnet18", "rows": 64, "cols": 64}
    bad = {"workload": "resnet18", "rows": 128, "cols": 64}
    clear_caches()
    got = evaluate_points([good, bad, good])
    assert isinstance(got[1], RuntimeError) and str(got[1]) == "staging failed"
    clear_caches()
    assert repr(got[0]) == repr(got[2]) == repr(evaluate_point(good))


def test_the_sweep_runner_hands_its_chunks_to_the_batch(tmp_path, monkeypatch):
    from imcsim.engine import evaluation
    from imcsim.sweep.runner import run_sweep
    from imcsim.sweep.spec import Point

    calls = []
    real = evaluation.evaluate_points

    def spy(points):
        calls.append(len(points))
        return real(points)

    monkeypatch.setattr(evaluation.evaluate_point, "batch", spy)
    params = [{"workload": "resnet18", "rows": r, "cols": c} for r in (32, 64) for c in (32, 64, 128)]
    points = [Point(i, f"p{i}", p) for i, p in enumerate(params)]
    summary = run_sweep(points, evaluate_point, tmp_path / "out", progress=False, chunk_size=4)
    assert summary.evaluated == 6 and summary.failed == 0
    assert calls == [4, 2]
