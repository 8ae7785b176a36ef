"""The two-stage ROI pipeline and its baselines: stage arithmetic, network pricing, bad input."""

import pytest

from imcsim.config.study import NamedSpec, Study
from imcsim.engine import evaluate
from imcsim.errors import SpecError
from imcsim.frontend.pipeline import PARTS, equal_area_resolution, price_network, run_frontend
from imcsim.frontend.spec import SensorStudy, load_sensor_study


def _study(**frontend) -> SensorStudy:
    fe = {"pool": 4, "detector": "tiny-cnn", "task": "tiny-cnn", "rois": [{"height": 104, "width": 105}]}
    fe.update(frontend)
    return SensorStudy.model_validate({"frontend": fe, "sensor": "hirise-vga", "accelerator": "acc-sas-mram"})


@pytest.fixture(scope="module")
def result():
    return run_frontend(_study(rois=[{"height": 104, "width": 105, "count": 2}], downscale_resolution=64))


def test_equal_area_resolution():
    # 160 x 120 = 19,200 px -> sqrt = 138.6 -> 139; 105 x 104 = 10,920 -> 104.499 -> 104
    assert equal_area_resolution(120, 160) == 139 and equal_area_resolution(104, 105) == 104
    assert equal_area_resolution(480, 640) == 554


def test_network_cost_is_the_engine_result():
    study = _study()
    cost = price_network(study, NamedSpec(name="tiny-cnn"), 120, 160)
    res = evaluate(Study(accelerator="acc-sas-mram", workload={"name": "tiny-cnn", "options": {"resolution": 139}}))
    assert cost.resolution == 139
    assert cost.energy_pj == pytest.approx(res.total_energy_pj)
    assert cost.latency_ns == pytest.approx(res.latency_ns)
    assert cost.energy_by_part_pj["memory"] >= res.energy_pj["leakage"]


def test_stages_add_readouts_and_networks(result):
    h = result.schemes["hirise"]
    s1, s2 = h.stages
    assert (s1.readout.conversions, s2.readout.conversions, s2.count) == (19_200, 32_760, 2)
    # two ROIs: readout and task network counted twice
    assert s2.energy_by_part_pj["adc"] == pytest.approx(2 * 838_656)
    assert s2.energy_by_part_pj["compute"] == pytest.approx(2 * s2.network.energy_by_part_pj["compute"])
    assert h.bits == 153_600 + 2 * 262_080
    assert h.energy_pj == pytest.approx(s1.readout.energy_pj + s1.network.energy_pj
                                        + 2 * (s2.readout.energy_pj + s2.network.energy_pj))
    assert h.latency_ns == pytest.approx(s1.readout.latency_ns + s1.network.latency_ns
                                         + 2 * (s2.readout.latency_ns + s2.network.latency_ns))
    # peak memory: largest stage of (converted image bytes + activation peak)
    assert h.peak_memory_bytes == max(19_200 + s1.network.activation_peak_bytes,
                                      32_760 + s2.network.activation_peak_bytes)
    assert set(h.energy_by_part_pj) == set(PARTS)


def test_baselines_and_ratios(result):
    full, down = result.schemes["full-frame"], result.schemes["downscaled"]
    assert full.stages[0].network.resolution == 554 and down.stages[0].network.resolution == 64
    assert full.frontend_energy_pj == pytest.approx(63_037_440) == down.frontend_energy_pj
    ratios = {r["baseline"]: r for r in result.ratios()}
    # 7,372,800 / (153,600 + 2 x 262,080) = 7,372,800 / 677,760 = 10.878
    assert ratios["full-frame"]["bits_ratio"] == pytest.approx(10.8782, rel=1e-4)
    assert ratios["full-frame"]["energy_ratio"] == pytest.approx(full.energy_pj / result.schemes["hirise"].energy_pj)


def test_no_task_network_means_frontend_only():
    res = run_frontend(_study(detector=None, task=None))
    assert set(res.schemes) == {"hirise", "full-frame"}
    assert res.schemes["full-frame"].energy_by_part_pj["compute"] == 0
    assert res.ratios()[0]["bits_ratio"] == pytest.approx(17.7367, rel=1e-4)


def test_bad_input_names_the_field(tmp_path):
    with pytest.raises(SpecError, match=r"frontend.rois.0: ROI does not fit in the frame"):
        run_frontend(_study(rois=[{"height": 481, "width": 10}]))
    with pytest.raises(SpecError, match=r"frontend.pool: pooling factor does not divide the frame: 3"):
        run_frontend(_study(pool=3))
    f = tmp_path / "s.yaml"
    f.write_text("frontend:\n  task: tiny-cnn\n  rois: [{height: 10, width: 10, count: 0}]\n")
    with pytest.raises(SpecError, match=r"s.yaml: frontend.rois: no ROI for the stage-2 network"):
        load_sensor_study(f)
    f.write_text("sensor: hirise-vga\n")
    with pytest.raises(SpecError, match=r"frontend: missing required section"):
        load_sensor_study(f)


# ------------------------------------------------------------------ measured ROI distribution (CSV)
def _file_study(tmp_path, csv_text, rois_file, **extra):
    (tmp_path / "boxes.csv").write_text(csv_text)
    fe = {"pool": 4, "detector": None, "task": "tiny-cnn", "rois_file": rois_file, **extra}
    study = SensorStudy.model_validate({"frontend": fe})
    study.file = str(tmp_path / "study.yaml")
    return study


BOXES = "frame,height,width\n1,100,100\n1,50,60\n2,100,100\n3,100,100\n"


def test_roi_distribution_measured_from_boxes(tmp_path):
    study = _file_study(tmp_path, BOXES, {"path": "boxes.csv", "frames": 4})
    # 3 boxes of 100 x 100 and 1 of 50 x 60 over 4 frames (frame 4 has none): 0.75 and 0.25 per frame
    assert study.roi_table() == [(50, 60, 0.25), (100, 100, 0.75)]
    binned = _file_study(tmp_path, BOXES, {"path": "boxes.csv", "bin_px": 8})
    # sides rounded up to multiples of 8 (100 -> 104, 50 -> 56, 60 -> 64); frames = 3 distinct ids
    assert binned.roi_table() == [(56, 64, 1 / 3), (104, 104, 1.0)]
    res = run_frontend(study)
    s_small, s_big = res.schemes["hirise"].stages[1:]
    assert (s_small.count, s_big.count) == (0.25, 0.75)
    # bits: stage 1 153,600 + 0.25 x 50 x 60 x 3 x 8 + 0.75 x 100 x 100 x 3 x 8 = 153,600 + 18,000 + 180,000
    assert res.schemes["hirise"].bits == pytest.approx(351_600)
    assert s_big.energy_by_part_pj["compute"] == pytest.approx(0.75 * s_big.network.energy_by_part_pj["compute"])
    assert any("measured from boxes.csv" in a for a in res.assumptions)


@pytest.mark.parametrize("csv_text, rois_file, extra, pattern", [
    ("frame,h,w\n1,2,3\n", "boxes.csv", {}, r"boxes.csv: header: missing column\(s\) height, width"),
    ("frame,height,width\n1,x,3\n", "boxes.csv", {}, r"boxes.csv: line 2: bad box size: 'x x 3'"),
    ("frame,height,width\n", "boxes.csv", {}, r"frontend.rois_file: no ROI for the stage-2 network"),
    ("frame,height,width\n1,500,10\n", "boxes.csv", {}, r"frontend.rois_file: ROI does not fit in the frame"),
    (BOXES, "boxes.csv", {"rois": [{"height": 1, "width": 1}]}, r"both rois and rois_file are set"),
    (BOXES, "nope.csv", {}, r"nope.csv: ROI file does not exist"),
    (BOXES, {"path": "boxes.csv", "frames": 2}, {}, r"frames: fewer frames than the file names: 2"),
])
def test_bad_roi_file_is_one_line(tmp_path, csv_text, rois_file, extra, pattern):
    with pytest.raises(SpecError, match=pattern):
        run_frontend(_file_study(tmp_path, csv_text, rois_file, **extra))


def test_accelerator_overrides_reach_the_engine():
    base = _study(task=None, rois=[{"height": 104, "width": 105}])
    gated = SensorStudy.model_validate({**base.model_dump(), "accelerator_overrides":
                                        {"chip.power_gating": "macros+buffers"}})
    n0 = price_network(base, NamedSpec(name="tiny-cnn"), 120, 160)
    n1 = price_network(gated, NamedSpec(name="tiny-cnn"), 120, 160)
    res = evaluate(Study(accelerator="acc-sas-mram", accelerator_overrides={"chip.power_gating": "macros+buffers"},
                         workload={"name": "tiny-cnn", "options": {"resolution": 139}}))
    assert n1.energy_pj == pytest.approx(res.total_energy_pj)
    assert n1.energy_by_part_pj["memory"] < n0.energy_by_part_pj["memory"]  # gated buffers leak less
    assert n1.energy_by_part_pj["compute"] == pytest.approx(n0.energy_by_part_pj["compute"])
