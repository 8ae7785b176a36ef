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
