"""In-sensor front end (HiRISE): sensor cards, the sensor cost model and the two-stage ROI pipeline.

``load_sensor(name_or_path) -> SensorCard`` (card.py), ``SensorModel`` (sensor.py: pixel reads, analog
grayscale and pooling, column ADCs, readout and link), ``run_frontend(study) -> FrontendResult``
(pipeline.py: the two-stage ROI scheme and the full-frame baselines priced with the accelerator),
``breakeven`` (the ROI fraction where the two-stage scheme stops paying). Equations: docs/frontend.md.
"""

from imcsim.frontend.card import SensorCard, list_sensors, load_sensor

__all__ = ["SensorCard", "list_sensors", "load_sensor"]
