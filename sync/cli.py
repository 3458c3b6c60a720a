"""The `postmortem-sync` command line: parses arguments and hands off to the pipeline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sync.parser import parse_file, render_table
from sync.templates import combine_templates

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _cmd_parse(args: argparse.Namespace) -> int:
    """Print the action items of storage-format files; 2 when a file (or --config) could not be read."""
    templates = None
    if args.config is not None:
        try:
            from sync.settings import load_settings  # only needed with --config
        except ImportError:
            print("postmortem-sync: --config needs sync.settings, which is not available", file=sys.stderr)
            return EXIT_USAGE
        try:
            templates = combine_templates(load_settings(args.config).templates)
        except Exception as exc:  # any configuration error is reported, not a traceback
            print(f"postmortem-sync: cannot load {args.config}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    status = EXIT_OK
    files: list[Path] = []
    for path in args.paths:
        found = sorted(path.glob("*.xml")) if path.is_dir() else [path]
        if not found:
            print(f"postmortem-sync: no *.xml files in {path}", file=sys.stderr)
            status = EXIT_USAGE
        files += found
    pages = []
    for file in files:
        try:
            pages.append(parse_file(file, templates=templates))
        except UnicodeDecodeError as exc:
            print(f"postmortem-sync: cannot read {file}: not UTF-8 ({exc.reason} at byte {exc.start})",
                  file=sys.stderr)
            status = EXIT_USAGE
        except OSError as exc:
            print(f"postmortem-sync: cannot read {file}: {exc.strerror or exc}", file=sys.stderr)
            status = EXIT_USAGE
    if args.json:
        documents = [page.to_json() for page in pages]
        if documents or len(files) != 1:
            print(json.dumps(documents[0] if len(files) == 1 else documents, ensure_ascii=False, indent=2))
    elif pages:
        print("\n\n".join(render_table(page) for page in pages))
    return status


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from sync.sandbox import SandboxOptions, serve

    if args.seed_dir is not None and not args.seed_dir.is_dir():
        print(f"postmortem-sync sandbox: --seed-dir {args.seed_dir} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = SandboxOptions(
            flavor=args.flavor, seed_dir=args.seed_dir, latency_ms=args.latency_ms,
            search_lag_ms=args.search_lag_ms, host=args.host, port=args.port,
        )
    except ValueError as exc:
        print(f"postmortem-sync sandbox: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return serve(options)
    except OSError as exc:  # typically: the port is taken
        print(f"postmortem-sync sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_FAILED


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
