"""Suite-wide test settings and the fixtures several modules share.

Hypothesis profiles: ``quick`` (the default: 25 examples per property) and ``full`` (hypothesis'
default of 100 examples, for CI: ``IMCSIM_HYPOTHESIS=full``, set by ``.ci/run``). Neither has a
per-example deadline or the "too slow" health check: both are wall-clock checks, and the suite runs on
shared 2-core machines where a loaded moment makes a fast example look slow (the project rule: no
wall-clock thresholds in tests). A test that sets its own ``max_examples`` keeps it.

``make test`` runs the suite on every core with pytest-xdist, ``--dist loadscope``: each module runs
whole on one worker, so a module-scoped fixture is built once, and so is a session-scoped fixture used
by one module only (``demo_sweep``; one used by several modules is built on each worker that runs
them). Not ``--dist loadgroup`` with ``xdist_group`` marks: with pytest 9.2 and pytest-xdist 3.8 it
silently ignores the marks (pytest-xdist issue 1386). Modules are handed out in file order
(``--no-loadscope-reorder``, pytest-xdist 3.8), not most-tests-first: that put
``test_cli_train.py`` (7 tests, one of them the 200-step Rep-Net run, a sixth of the suite's CPU) last,
so one worker ran it alone at the end. Tests must not depend on each other's order or write outside
their ``tmp_path``: two workers run at once.
"""

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Numba's parallel kernels run on OpenMP threads that spin after each parallel region, waiting for the
# next: on a shared 2-core machine the spinning thread takes the core the test needs (a 100x100 linear:
# 28 ms of CPU per call instead of 0.1-0.2 ms, measured at load 7). Passive waiting keeps two threads
# (so a race in a prange kernel can still show) without the spin. Set before the first parallel call
# loads the OpenMP runtime; subprocesses inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_configure(config):
    """Threads per xdist worker (``-n N``), set before the workers start (they inherit the
    environment): N workers already fill the cores. One BLAS thread (OpenBLAS threads spin-wait between
    calls, and no test depends on their count). Two Numba threads, not one per core: the bit-serial
    kernels size their parallel parts by ``numba.get_num_threads()`` and their tests must see more than
    one thread, as in a serial run on 2 cores; with ``OMP_WAIT_POLICY=PASSIVE`` a thread without a core
    sleeps instead of spinning, so 2 workers x 2 threads on 2 cores costs switches, not CPU."""
    if getattr(config.option, "numprocesses", None):
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("NUMBA_NUM_THREADS", "2")


_NO_CLOCK = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("quick", max_examples=25, **_NO_CLOCK)
settings.register_profile("full", max_examples=100, **_NO_CLOCK)
settings.load_profile(os.environ.get("IMCSIM_HYPOTHESIS", "quick"))

#: the issue's demonstration sweep: ResNet-18 on 3 devices x 4 rows x 4 cols x 4 methods (lorafusion fails)
def mlp3():
    """A small SNN-able graph for the SNN tests: input (64,) -> fc0 64->64 (direct) -> spk0 -> fc1 64->32 -> spk1
    -> fc2 32->10 (readout)."""
    from imcsim.workload.graph import GraphBuilder

    b = GraphBuilder("mlp3", (64,))
    x = b.act(b.linear(b.input, 64, bias=False, name="fc0"), "relu", name="spk0")
    x = b.act(b.linear(x, 32, bias=False, name="fc1"), "relu", name="spk1")
    b.linear(x, 10, bias=False, name="fc2", tags=("classifier",))
    return b.build()


DEMO = ["--workload", "resnet18", "--device", "sas-mram,sot-mram,reram", "--rows", "32,64,128,256",
        "--cols", "32,64,128,256", "--method", "inference,full,last,lorafusion"]


@dataclass(frozen=True)
class DemoSweep:
    out: Path          # the sweep folder (store, plots, report.html)
    code: int          # exit code of ``imcsim sweep``
    summary: dict      # its JSON summary record
    stderr: str


@pytest.fixture(scope="session")
def demo_sweep(tmp_path_factory) -> DemoSweep:
    """The demonstration sweep run once, serially, with its report: every test reading it shares it."""
    from imcsim.cli.main import main

    out = tmp_path_factory.mktemp("demo") / "demo"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["sweep", *DEMO, "-o", str(out), "--progress", "none", "--format", "json"])
    summary = json.loads(stdout.getvalue())[0] if code == 0 else {}
    return DemoSweep(out, code, summary, stderr.getvalue())
