"""The exit rules on hand-made accumulated outputs, and the SNN spec's bad-input lines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imcsim.errors import SpecError
from imcsim.snn.exits import average_timesteps, check_histogram, exits, scores, static, two_point_histogram
from imcsim.snn.spec import load_snn_spec

# Two classes, three timesteps. Outputs o_1 = (0, 0), o_2 = (2, 0), o_3 = (2, 0); summed z_t:
#   z_1 = (0, 0): p = (0.5, 0.5), H = 1 (normalised), score 1 - H = 0
#   z_2 = (2, 0): p = (e^2 / (e^2 + 1), 1 / (e^2 + 1)) = (0.880797, 0.119203),
#                 H = -(0.880797 ln 0.880797 + 0.119203 ln 0.119203) / ln 2 = (0.111798 + 0.253536) / 0.693147
#                   = 0.527065, score 0.472935
#   z_3 = (4, 0): p = (0.982014, 0.017986), H = (0.017823 + 0.072271) / 0.693147 = 0.129979, score 0.870021
OUT = np.array([[[0.0, 0.0], [2.0, 0.0], [2.0, 0.0]]])


def test_entropy_scores_by_hand():
    assert scores(OUT, "entropy")[0] == pytest.approx([0.0, 0.472935, 0.870021], abs=1e-6)


@pytest.mark.parametrize("threshold, t_exit", [(0.0, 2), (0.4, 2), (0.5, 3), (0.9, 3)])
def test_entropy_exit_by_hand(threshold, t_exit):
    # strictly greater: at threshold 0.0 the first step (score exactly 0) does not exit
    e = exits(OUT, "entropy", threshold)
    assert e.timesteps.tolist() == [t_exit] and e.predictions.tolist() == [0]


def test_confidence_exit_and_mean_accumulation():
    # confidence = max p: z_2 = (2, 0) -> 0.880797; with the mean, z_2 = (1, 0) -> e / (e + 1) = 0.731059
    assert scores(OUT, "confidence")[0][1] == pytest.approx(0.880797, abs=1e-6)
    assert scores(OUT, "confidence", "mean")[0][1] == pytest.approx(math.e / (math.e + 1))
    assert exits(OUT, "confidence", 0.8).timesteps.tolist() == [2]
    assert exits(OUT, "confidence", 0.8, "mean").timesteps.tolist() == [3]  # mean z_3 = (4/3, 0): 0.7914


def test_histogram_average_and_accuracy():
    out = np.stack([OUT[0], OUT[0][:, ::-1], np.zeros((3, 2))])  # second sample favours class 1
    e = exits(out, "entropy", 0.4)
    assert e.timesteps.tolist() == [2, 2, 3]
    assert e.histogram() == pytest.approx([0.0, 2 / 3, 1 / 3]) and e.average == pytest.approx(7 / 3)
    assert e.accuracy(np.array([0, 1, 0])) == 1.0  # a tie (all zeros) predicts class 0
    assert static(out).timesteps.tolist() == [3, 3, 3]
    assert average_timesteps([0.54, 0.46, 0, 0]) == pytest.approx(1.46)
    assert two_point_histogram(4.0, 4) == [0, 0, 0, 1.0]


def test_bad_histograms_and_thresholds():
    with pytest.raises(SpecError, match="does not sum to 1"):
        check_histogram([0.5, 0.4, 0.0, 0.0], 4)
    with pytest.raises(SpecError, match="one per timestep"):
        check_histogram([1.0], 4)
    with pytest.raises(SpecError, match=r"exit.threshold"):
        exits(OUT, "entropy", 1.0)


@pytest.mark.parametrize("data, field", [
    ({"timesteps": 0}, "timesteps"),
    ({"exit": {"rule": "entropy", "threshold": 1.5}}, "exit.threshold"),
    ({"exit": {"rule": "confidence"}}, "needs a threshold"),
    ({"exit": {"rule": "histogram", "histogram": [0.5, 0.4, 0.0, 0.0]}}, "sums to 0.9"),
    ({"timesteps": 3, "exit": {"rule": "histogram", "histogram": [0.5, 0.5]}}, "one per timestep"),
    ({"neuron": {"kind": "izhikevich"}}, "neuron.kind"),
    ({"spike_rate": 1.5}, "spike_rate"),
])
def test_spec_errors_are_one_line(data, field):
    with pytest.raises(SpecError) as info:
        load_snn_spec(data)
    assert field in str(info.value) and "\n" not in str(info.value)
