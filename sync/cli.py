"""The `postmortem-sync` command line: parses arguments and hands off to the pipeline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _cmd_parse(args: argparse.Namespace) -> int:
    raise NotImplementedError("parse")


def _cmd_sandbox(args: argparse.Namespace) -> int:
    raise NotImplementedError("sandbox")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postmortem-sync",
        description="Sync Confluence postmortem action items to Jira and report completion.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    parse = commands.add_parser("parse", help="extract action items from storage-format files")
    parse.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file, or folder of *.xml")
    parse.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parse.add_argument("--config", type=Path, help="configuration file (for custom templates)")
    parse.set_defaults(handler=_cmd_parse)

    sandbox = commands.add_parser("sandbox", help="serve a local Jira + Confluence stand-in")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8990)
    sandbox.add_argument("--seed-dir", type=Path, help="folder of *.xml pages and users.json")
    sandbox.add_argument("--flavor", choices=("cloud", "datacenter"), default="cloud")
    sandbox.add_argument("--latency-ms", type=int, default=0)
    sandbox.add_argument("--search-lag-ms", type=int, default=0)
    sandbox.set_defaults(handler=_cmd_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
