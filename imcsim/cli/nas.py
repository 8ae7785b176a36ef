"""``imcsim nas SPACE``: FLASH-style search over networks and IMC arrays together.

SPACE is a search-space card (``workloads/nas/*.yaml``, or a built-in name such as ``skipnet-digits``).
The accuracy predictor is fitted on the card's sample table (``--samples`` to use another, ``--train N``
to measure N samples by training them on digits first); every candidate is priced by the analytic
engine. Prints the predictor's cross-validated quality, the best candidates and each device's Pareto
front, and writes candidates.csv, pareto.csv, plots, report.html and winner.yaml (``imcsim run
OUT/winner.yaml`` prices the winner in full) into --out.

Examples:
  imcsim nas skipnet-digits
  imcsim nas skipnet-tiny --search exhaustive
  imcsim nas my-space.yaml --train 25 --samples my-samples.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imcsim.cli.output import add_format_option, emit

ORDER = 75


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nas", help="hardware-aware architecture search (NN-Degree, predictor, hierarchical SHGO)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("space", help="search-space card path or built-in name (workloads/nas/)")
    p.add_argument("--samples", default=None, help="sample table CSV (default: the card's 'samples')")
    p.add_argument("--train", type=int, default=0, metavar="N",
                   help="first measure N samples by training them on digits (fp32 numpy) and write them to --samples")
    p.add_argument("--search", default="shgo", choices=("shgo", "exhaustive", "random"),
                   help="hierarchical SHGO (default), every point, or random pairs")
    p.add_argument("--n-outer", type=int, default=16, help="SHGO sampling points per block of network variables (default 16)")
    p.add_argument("--n-inner", type=int, default=8, help="SHGO sampling points over array geometries (default 8)")
    p.add_argument("--budget", type=int, default=1000, help="random search: (network, array) pairs (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of random search and sample draws (default 0)")
    p.add_argument("--top", type=int, default=5, help="best candidates printed (default 5)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default reports/nas-<space>)")
    add_format_option(p)
    p.set_defaults(func=_run)


def _check(args: argparse.Namespace) -> None:
    from imcsim.errors import SpecError

    for flag in ("n_outer", "n_inner", "budget", "top"):
        if getattr(args, flag) < 1:
            raise SpecError("<flags>", f"--{flag.replace('_', '-')}", getattr(args, flag), allowed="an integer >= 1")
    if args.train < 0:
        raise SpecError("<flags>", "--train", args.train, allowed="an integer >= 0")
    if args.train and args.samples is None:
        raise SpecError("<flags>", "--train", args.train, problem="needs --samples to write the measured table to:",
                        allowed="--samples PATH.csv")


def _holdout(q: dict) -> str:
    return (f"R2 {q['r2_holdout']:.3f}, Spearman {q['spearman_holdout']:.3f}, Kendall {q['kendall_holdout']:.3f}, "
            f"MAE {q['mae_holdout']:.4f} ({int(q['n_holdout'])} networks never fitted on)")


def _run(args: argparse.Namespace) -> int:
    import pandas as pd
    import yaml

    from imcsim.nas import flow
    from imcsim.nas import samples as smp
    from imcsim.nas.space import load_space
    from imcsim.nas.train import TrainConfig, train_accuracy
    from imcsim.report.nas import frame, mark_fronts, write_report

    _check(args)
    space = load_space(args.space)
    path = flow.samples_path(space, args.samples)
    if args.train:
        cfg = TrainConfig(seed=args.seed)
        nets = smp.draw(space, args.train, args.seed)
        rows = smp.measure(space, nets, lambda g: train_accuracy(g, cfg), "measured by imcsim.nas.train: " + cfg.describe(),
                           lambda i, n, a: print(f"trained {i + 1}/{len(nets)} {n.label()}: {a:.4f}", flush=True))
        smp.write(rows, path)
        print(f"wrote {path}")
    nas = flow.run(space, path, args.search, args.n_outer, args.n_inner, args.budget, args.seed)
    res = nas.result
    recs = flow.records(res.points)
    best = flow.records([res.best])[0]
    out = args.out or Path("reports") / f"nas-{space.card.name}"
    q = nas.predictor.quality
    meta = {"space": f"{space.card.name} ({space.path})", "search": res.method, "settings": res.settings,
            "space points (networks x arrays)": f"{res.space_points:,}", "networks visited": res.networks,
            "candidates priced by the engine": res.priced, "search time (s)": round(res.seconds, 3),
            "predictor": nas.predictor.description,
            "predictor quality (leave-one-out)": f"R2 {q['r2_cv']:.3f}, Spearman {q['spearman_cv']:.3f}, "
                                                 f"Kendall {q['kendall_cv']:.3f}, MAE {q['mae_cv']:.4f}; "
                                                 f"training R2 {q['r2_train']:.3f}",
            **({"predictor quality (held-out table)": _holdout(q)} if "n_holdout" in q else {}),
            "best": f"{best['network']} on {best['device']} {best['rows']}x{best['cols']} rp {best['rows_parallel']}"}
    samples_df = pd.read_csv(path)
    paths = write_report(recs, out, title=f"imcsim nas: {space.card.name}", meta=meta, assumptions=nas.assumptions,
                         best=best, samples=samples_df)
    winner = out / "winner.yaml"
    winner.write_text(yaml.safe_dump(flow.winner_study(nas), sort_keys=False))
    df = frame(recs)
    front = df[mark_fronts(df, "energy_pj")].sort_values(["device", "energy_pj"])
    top = df.sort_values("objective").head(args.top)
    if args.format != "table":
        emit(top.to_dict("records"), args.format)
        return 0
    print(f"{space.card.name}: {res.space_points:,} (network x array) points; {res.method} visited "
          f"{res.networks} networks and priced {res.priced} candidates in {res.seconds:.2f} s")
    print(f"predictor {nas.predictor.form}: leave-one-out R2 {q['r2_cv']:.3f}, Spearman {q['spearman_cv']:.3f}, "
          f"Kendall {q['kendall_cv']:.3f} ({int(q['n_samples'])} samples)"
          + (f"; held-out {_holdout(q)}" if "n_holdout" in q else ""))
    emit(top.to_dict("records"), "table", title="best candidates (lowest objective)")
    print()
    emit(front.to_dict("records"), "table", title="Pareto front, predicted accuracy vs energy (per device)")
    print("\nrests on:")
    for a in nas.assumptions:
        print(f"  - {a}")
    for key in ("candidates", "pareto", "report"):
        print(f"wrote {paths[key]}")
    print(f"wrote {winner}  (price it: imcsim run {winner})")
    return 0
