"""``imcsim validate``: imcsim's numbers against published silicon and papers, and the calibration
of assumption-tagged defaults (docs/validation.md).

Public API: :func:`load_cases` / :func:`select` (cases as data, ``workloads/validation/*.yaml``),
:func:`run_case` / :func:`run_suite` -> :class:`CaseResult` (published, simulated, error %, band,
verdict), :func:`write_outputs` (``validation.csv`` + ``validation.html`` fragment), and
:mod:`imcsim.validate.calibration` (:func:`~imcsim.validate.calibration.fit`,
:func:`~imcsim.validate.calibration.calibration_report`). :mod:`imcsim.validate.sensitivity` sweeps one
assumption (``imcsim sensitivity``).
"""

from imcsim.validate.cases import Case, load_cases, select
from imcsim.validate.suite import CaseResult, html_fragment, run_case, run_suite, verdict, write_outputs

__all__ = ["Case", "CaseResult", "html_fragment", "load_cases", "run_case", "run_suite", "select", "verdict",
           "write_outputs"]
