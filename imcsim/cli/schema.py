"""``imcsim schema``: JSON Schema of an input file kind, or the generated key reference page.

    imcsim schema study            # JSON Schema of a study YAML (also accelerator, device, workload, method, sweep)
    imcsim schema --reference      # docs/study-reference.md as Markdown on stdout
    imcsim schema --reference docs/study-reference.md   # rewrite the page (what `make docs` runs)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ORDER = 95


def register(sub: argparse._SubParsersAction) -> None:
    from imcsim.reference import KINDS

    p = sub.add_parser("schema", help="JSON Schema of study/accelerator/device/... files; the key reference",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", nargs="?", choices=list(KINDS), help="which input file")
    p.add_argument("--reference", nargs="?", const="-", metavar="FILE",
                   help="print (or write to FILE) the Markdown reference of every key and --set field")
    p.set_defaults(func=_schema)


def _schema(args: argparse.Namespace) -> int:
    from imcsim.errors import SpecError
    from imcsim.reference import json_schema, study_reference_markdown

    if args.reference is not None:
        text = study_reference_markdown()
        if args.reference == "-":
            sys.stdout.write(text)
        else:
            Path(args.reference).write_text(text)
            print(f"wrote {args.reference}")
        return 0
    if args.kind is None:
        raise SpecError("<flags>", "KIND", None, problem="missing:", allowed="study, accelerator, device, "
                        "workload, method, sweep (or --reference)")
    json.dump(json_schema(args.kind), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0
