"""Entry point of the ``imcsim`` console script: discovers subcommands, turns errors into one line."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import imcsim
from imcsim.errors import ImcsimError

_NOT_COMMANDS = {"main", "output"}


def _command_modules() -> list:
    import imcsim.cli as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in _NOT_COMMANDS or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"imcsim.cli.{info.name}")
        if hasattr(mod, "register"):
            mods.append(mod)
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imcsim",
        description="Cycle-level simulator of in-memory-computing accelerators: device models "
                    "(SAS-MRAM, SOT-MRAM, STT-MRAM, ReRAM, SRAM), bit-exact INT8 bit-serial kernels, "
                    "inference and on-device training cost.",
    )
    parser.add_argument("--version", action="version", version=f"imcsim {imcsim.__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ImcsimError as exc:
        if args.debug:
            raise
        print(f"imcsim: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("imcsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
