"""The Python API: ``imcsim.run``, ``imcsim.sweep``, ``imcsim.compare`` and ``imcsim.load_study``.

Why a separate module: the CLI commands and the notebooks should drive the same code with the same
names, and every result should carry the inputs that produced it (a metrics row without its study
cannot be plotted or compared). The functions here take the CLI's flag names as keyword arguments
(``device``, ``workload``, ``method``, ``rows``, ``batch`` ... and any flat study field through
``set={"chip.tiles": 32}``), or a study file / :class:`~imcsim.config.study.Study` object, and return
objects that hold the study next to the numbers. See docs/api.md.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imcsim.config.study import Study, load_study_file, study_from_params
from imcsim.errors import SpecError

if TYPE_CHECKING:  # pandas is imported on first use so ``import imcsim`` stays light
    import pandas as pd

    from imcsim.engine.ledger import Result as Ledger

__all__ = ["Result", "Results", "run", "sweep", "compare", "load_study"]

#: where a study given as keywords is said to come from in error messages
SOURCE = "<imcsim.run>"
#: headline metrics, in the order reports and ``repr`` show them (answer first, inputs after)
KEY_INPUTS = ("run", "device", "accelerator", "workload", "method", "batch")
HEADLINE = ("latency_ns", "energy_pj", "tops_per_w", "write_energy_pj", "write_latency_ns", "lifetime_years")


@dataclass
class Result:
    """One evaluated study: its inputs (``study``, ``inputs``) and what it costs (``ledger``).

    ``summary()`` is one flat record (inputs first, then unit-suffixed metrics); ``layers`` is the
    per-op table (layer x phase); ``to_frame()`` is ``summary()`` as a one-row DataFrame.
    """

    name: str
    study: Study
    ledger: Ledger

    @property
    def inputs(self) -> dict[str, Any]:
        """The flat study the engine ran, with the preset's defaults filled in (device, rows, batch ...)."""
        return {"run": self.name, **{k: v for k, v in self.ledger.study.items()
                                     if v is None or isinstance(v, (int, float, str, bool))}}

    def metrics(self) -> dict[str, Any]:
        """Unit-suffixed metrics only (``latency_ns``, ``energy_pj``, ``tops_per_w`` ...)."""
        rec = self.ledger.summary()
        macs = rec.get("macs", 0)
        # TOPS/W = ops / energy: 2 ops per MAC; ops / pJ = 1e12 ops/J = 1 TOPS/W.
        rec["tops_per_w"] = 2.0 * macs / rec["energy_pj"] if rec["energy_pj"] else 0.0
        return rec

    def summary(self) -> dict[str, Any]:
        """Inputs and metrics in one flat record: what ran, the headline answer, then everything else."""
        m = self.metrics()
        inputs = self.inputs
        first = {k: inputs.get(k) for k in KEY_INPUTS}
        rest = {k: v for k, v in inputs.items() if k not in KEY_INPUTS}
        return {**first, **{k: m[k] for k in HEADLINE}, **rest, **{k: v for k, v in m.items() if k not in HEADLINE}}

    @property
    def energy_by_component_pj(self) -> dict[str, float]:
        """Energy of one step by source (``cell_read``, ``write``, ``leakage`` ...), pJ."""
        return dict(self.ledger.energy_pj)

    @property
    def layers(self) -> pd.DataFrame:
        """One row per priced op (layer x phase): cycles, executions, MACs, energy by component."""
        import pandas as pd

        return pd.DataFrame(self.ledger.layer_records())

    def to_frame(self) -> pd.DataFrame:
        """``summary()`` as a one-row DataFrame (concatenate several to compare runs)."""
        import pandas as pd

        return pd.DataFrame([self.summary()])

    def write(self, out_dir: str | Path) -> list[Path]:
        """The files ``imcsim run`` writes: summary.csv, layers.csv and ledger.json."""
        return self.ledger.write(out_dir)

    def __repr__(self) -> str:
        m = self.metrics()
        who = ", ".join(f"{k}={self.inputs.get(k)}" for k in ("device", "workload", "method"))
        return (f"Result({who}: latency {m['latency_ns'] / 1e3:.4g} us, energy {m['energy_pj'] / 1e6:.4g} uJ, "
                f"{m['tops_per_w']:.3g} TOPS/W, writes {m['write_energy_pj'] / 1e6:.4g} uJ)")


class Results(Sequence[Result]):
    """The results of a study file with several ``runs``, in file order."""

    def __init__(self, results: Sequence[Result]) -> None:
        self._results = list(results)

    def __getitem__(self, i):  # type: ignore[override]
        return self._results[i]

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    def to_frame(self) -> pd.DataFrame:
        """One row per run: inputs, then metrics."""
        import pandas as pd

        return pd.DataFrame([r.summary() for r in self._results])

    def __repr__(self) -> str:
        return "Results([\n  " + ",\n  ".join(repr(r) for r in self._results) + "\n])"


def load_study(path: str | Path) -> list[Study]:
    """Read a study file; one :class:`Study` per run (``study.name`` is the run name for several runs).

    Each item can be passed to :func:`run` as is.
    """
    sf = load_study_file(path)
    out = []
    for name, study in sf.runs:
        if name and not study.name:
            study = study.model_copy(update={"name": name})
        out.append(study)
    return out


def _flags(fields: Mapping[str, Any], set: Mapping[str, Any] | None) -> dict[str, Any]:
    flags = {k: v for k, v in fields.items() if v is not None}
    flags.update(dict(set or {}))
    return flags


def _studies(study: str | Path | Study | Sequence[Study] | Mapping[str, Any] | None,
             flags: Mapping[str, Any]) -> tuple[list[Study], bool]:
    """(studies, came from one item). Keyword fields override the file's or object's fields."""
    if study is None:
        if "workload" not in flags:
            raise SpecError(SOURCE, "workload", None, problem="missing: give a study file or object, or",
                            allowed="workload=NAME (and optionally device=, method=, rows= ...)")
        return [study_from_params(dict(flags), SOURCE)], True
    if isinstance(study, Mapping):
        return [study_from_params({**study, **flags}, SOURCE)], True
    if isinstance(study, Study):
        items, single = [study], True
    elif isinstance(study, (str, Path)):
        items = load_study(study)
        single = len(items) == 1
    else:
        items, single = list(study), False
    if flags:
        items = [study_from_params({**s.flat(), **flags, "name": s.name}, SOURCE) for s in items]
    return items, single


def run(study: str | Path | Study | Sequence[Study] | Mapping[str, Any] | None = None, *,
        device: str | None = None, accelerator: str | None = None, workload: str | None = None,
        method: str | None = None, engine: str | None = None, rows: int | None = None, cols: int | None = None,
        rows_parallel: int | None = None, column_mux: int | None = None, bits_per_cell: int | None = None,
        batch: int | None = None, write_policy: str | None = None, backward: str | None = None,
        steps_per_day: float | None = None, set: Mapping[str, Any] | None = None) -> Result | Results:
    """Evaluate one study, like ``imcsim run``.

    ``study``: a study file, a :class:`Study` (e.g. from :func:`load_study`), a list of them, a flat
    mapping, or nothing (then ``workload=`` is required). Keywords are the CLI flags; ``set`` takes any
    other flat field (``{"chip.tiles": 32, "workload.resolution": 160}``) and overrides the file.
    Returns a :class:`Result`, or :class:`Results` for a file or list with several runs. Bad input
    raises :class:`imcsim.errors.SpecError` naming the field, the value and what is allowed.
    """
    from imcsim.engine.evaluation import evaluate

    fields = dict(device=device, accelerator=accelerator, workload=workload, method=method, engine=engine,
                  rows=rows, cols=cols, rows_parallel=rows_parallel, column_mux=column_mux,
                  bits_per_cell=bits_per_cell, batch=batch, write_policy=write_policy, backward=backward,
                  steps_per_day=steps_per_day)
    studies, single = _studies(study, _flags(fields, set))
    results = [Result(s.name or "", s, evaluate(s)) for s in studies]
    return results[0] if single else Results(results)


def _text(value: Any) -> str:
    """A Python value as the CLI's value text (a list is an axis: ``a,b,c``)."""
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sweep(study: str | Path | None = None, *, filters: Sequence[str] = (), out: str | Path | None = None,
          jobs: int = 1, resume: bool = False, progress: bool = False, set: Mapping[str, Any] | None = None,
          **fields: Any) -> pd.DataFrame:
    """Evaluate a Cartesian product of study fields, like ``imcsim sweep``; one DataFrame row per point.

    Keywords are flat study fields: a list is an axis, a scalar is fixed (``device=["sas-mram", "reram"],
    rows=[64, 128], workload="resnet18"``); ``set`` takes dotted fields (``{"chip.tiles": [16, 32]}``);
    ``filters`` are expressions over the fields (``"rows_parallel <= rows"``). ``study``: a sweep YAML or
    a study file, overridden field by field. Results stream into ``out`` (a temporary folder if None;
    its path is in ``frame.attrs["out"]``) and can be resumed. Columns: ``point``, ``point_id``, the
    inputs, ``status``, ``error``, then the metrics.
    """
    from imcsim.engine import evaluate_point
    from imcsim.sweep.runner import run_sweep
    from imcsim.sweep.store import read_results
    from imcsim.sweep.study import check_plan, plan_from_file, plan_from_flags, warm_engine

    given = {**fields, **dict(set or {})}
    pairs = [(k.replace("-", "_"), _text(v)) for k, v in given.items() if v is not None]
    plan = plan_from_file(study, pairs, filters) if study is not None else plan_from_flags(pairs, filters)
    check_plan(plan)
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="imcsim-sweep-"))
    run_sweep(plan.points, evaluate_point, folder, jobs=jobs, resume=resume, progress=progress,
              warmup=warm_engine, spec=plan.spec)
    frame = read_results(folder)
    frame.attrs["out"] = str(folder)
    return frame


def compare(devices: Sequence[str], workload: str, methods: Sequence[str] = ("inference",), *,
            engine: str = "analytic", set: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Devices side by side for one workload and methods, like ``imcsim compare``.

    One row per (method, device): energy and time per step, per task and per epoch, the write part,
    lifetime, deploy cost and ratios to the first device of the same method. ``set`` takes study
    options (``{"steps_per_task": 500, "dataset_size": 50000}``).
    """
    import pandas as pd

    from imcsim.compare import compare as _compare

    return pd.DataFrame(_compare(list(devices), workload, list(methods), dict(set or {}), engine=engine,
                                 source="<imcsim.compare>"))
