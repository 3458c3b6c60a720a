"""The `postmortem-sync` command line: parses arguments and hands off to the pipeline."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sync.parser import parse_file, render_table
from sync.plan_view import render_plan_table
from sync.templates import TemplateSpec, combine_templates

if TYPE_CHECKING:
    from sync.atlassian.confluence import ConfluenceAdapter
    from sync.atlassian.jira import JiraAdapter
    from sync.cycle import CycleResult
    from sync.settings import Settings
    from sync.state import State

    Loaded = tuple[Settings, JiraAdapter, ConfluenceAdapter, State]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _cmd_parse(args: argparse.Namespace) -> int:
    """Print the action items of storage-format files; 2 when a file (or --config) could not be read."""
    templates = None
    if args.config is not None:
        templates = _parse_templates(args.config)
        if templates is None:
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


def _parse_templates(config: Path) -> tuple[TemplateSpec, ...] | None:
    """The templates `parse --config` reads with, or None after saying why they could not be loaded."""
    try:
        from sync.settings import load_settings  # only needed with --config
    except ImportError:
        print("postmortem-sync: --config needs sync.settings, which is not available", file=sys.stderr)
        return None
    try:
        return combine_templates(load_settings(config).templates)
    # Any configuration error is reported, not a traceback; `parse` works without sync.settings (it is
    # imported only here), so it cannot name sync.settings.ConfigError.
    except Exception as exc:  # noqa: BLE001
        print(f"postmortem-sync: cannot load {config}: {exc}", file=sys.stderr)
        return None


def _cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the local Jira + Confluence stand-in until SIGINT/SIGTERM; 2 on bad options, 1 if it cannot listen."""
    from sandbox import SandboxOptions, serve  # imported here: the other commands do not need the server

    if args.seed_dir is not None and not args.seed_dir.is_dir():
        print(f"postmortem-sync sandbox: --seed-dir {args.seed_dir} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        zones = {name: getattr(args, name) for name in ("timezone", "site_timezone", "cql_timezone")
                 if getattr(args, name)}  # unset: the sandbox's own (non-UTC) defaults
        options = SandboxOptions(
            flavor=args.flavor, seed_dir=args.seed_dir, latency_ms=args.latency_ms,
            search_lag_ms=args.search_lag_ms, host=args.host, port=args.port, v1_content_gone=args.v1_content_gone,
            clock_offset_s=args.clock_offset_s, **zones,
        )
    except ValueError as exc:
        print(f"postmortem-sync sandbox: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return serve(options)
    except OSError as exc:  # typically: the port is taken
        print(f"postmortem-sync sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _load(args: argparse.Namespace) -> Loaded:
    """Settings, adapters and state for the commands that talk to Atlassian; ConfigError on bad config."""
    from sync.atlassian import make_adapters
    from sync.logs import configure_logging
    from sync.settings import load_settings
    from sync.state_file import open_state, scope_of, site_of

    settings = load_settings(args.config)
    # The daemon's events go to stdout (where container runtimes collect them); the commands that
    # print a result (plan, report, check) keep stdout for it and log to stderr.
    stream = sys.stdout if args.command in ("run", "once") else sys.stderr
    configure_logging(log_format=settings.daemon.log_format, level=settings.daemon.log_level,
                      secrets=settings.secret_values(), stream=stream)
    state = open_state(settings.sync.state_path, site=site_of(settings), scope=scope_of(settings))
    # run and once keep what they learn about the sites (the deployment) in the state for the next run;
    # check asks afresh, and plan and report leave the state as they found it.
    jira, confluence = make_adapters(settings, memory=state if args.command in ("run", "once") else None)
    return settings, jira, confluence, state


def _with_config(handler: Callable[..., int]) -> Callable[[argparse.Namespace], int]:
    """Run a command that needs configuration; print every configuration problem and exit 2."""
    def run(args: argparse.Namespace) -> int:
        from sync.settings import ConfigError

        try:
            loaded = _load(args)
        except ConfigError as exc:
            print(f"postmortem-sync: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return handler(args, *loaded)
    return run


def _log_cycle(result: CycleResult) -> None:
    import structlog

    applied = result.applied
    structlog.get_logger("sync.cycle").info(
        "cycle_finished", ok=result.ok, full=result.full, pages_seen=result.pages_seen,
        pages_changed=result.pages_changed, items=result.items,
        creates=len(applied.created) if applied else 0, updates=applied.updated if applied else 0,
        flags=applied.flagged if applied else 0, write_backs=applied.written_back if applied else 0,
        reminders=len(applied.reminded) if applied else 0,
        summary_written=result.summary_written, requests=result.requests,
        duration_s=round(result.duration_s, 3), problems=len(result.problems),
    )
    for problem in result.problems:
        structlog.get_logger("sync.cycle").warning("cycle_problem", kind=problem.kind.value, problem=str(problem))


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(f"postmortem-sync: {message}", file=sys.stderr)


def _cmd_once(args: argparse.Namespace, settings: Settings, jira: JiraAdapter, confluence: ConfluenceAdapter,
              state: State) -> int:
    """One cycle; exit 1 when it failed. SIGTERM/SIGINT let the cycle finish, then the lease is released."""
    from sync.clock import passed_for_all
    from sync.cycle import run_cycle
    from sync.daemon import defer_shutdown
    from sync.lease import release

    defer_shutdown()
    result = run_cycle(settings, jira, confluence, state, force=args.force, progress=_progress)
    _log_cycle(result)
    release(confluence, state, passed_for_all(jira, datetime.now(UTC)))  # lease times are Jira's
    return EXIT_OK if result.ok else EXIT_FAILED


def _cmd_run(args: argparse.Namespace, settings: Settings, jira: JiraAdapter, confluence: ConfluenceAdapter,
             state: State) -> int:
    """The daemon: a cycle every interval until SIGTERM/SIGINT."""
    import gc

    from sync.clock import passed_for_all
    from sync.cycle import run_cycle
    from sync.daemon import CycleOutcome, Daemon
    from sync.health import HealthServer, HealthState
    from sync.heap import trim_heap
    from sync.lease import release

    interval_s = settings.sync.interval_minutes * 60
    health = HealthState(interval_s)
    state.keep_decoded()  # a quiet cycle then decodes nothing: only what changed is written (and decoded)

    def cycle() -> CycleOutcome:
        result = run_cycle(settings, jira, confluence, state, force=args.force)
        if not gc.get_freeze_count():
            # The decoded state lives as long as the process: the collector need not walk it every cycle,
            # and what the first cycle freed (every page decoded once for the metrics) goes back to the system.
            gc.collect()
            gc.freeze()
            trim_heap()
        _log_cycle(result)
        t = result.totals
        items = {"open": t.open, "done": t.done, "overdue": t.overdue} if t else {}
        return CycleOutcome(result.ok, result.duration_s, result.requests, items,
                            t.completion_rate if t else None, result.pages_seen)

    server = HealthServer(health, settings.daemon.metrics_host, settings.daemon.metrics_port)
    daemon = Daemon(cycle, interval_s=interval_s, health=health, health_server=server)
    daemon.install_signal_handlers()
    code = daemon.run_forever()
    release(confluence, state, passed_for_all(jira, datetime.now(UTC)))  # lease times are Jira's
    return code


def _cmd_plan(args: argparse.Namespace, settings: Settings, jira: JiraAdapter, confluence: ConfluenceAdapter,
              state: State) -> int:
    """Dry run: print what a cycle would change, change nothing."""
    from sync.cycle import run_cycle

    result = run_cycle(settings, jira, confluence, state, apply=False)
    if result.plan is not None:
        print(render_plan_table(result.plan, {r.page_id: r.page_title for r in result.rows if r.page_id}))
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return EXIT_OK if result.plan is not None else EXIT_FAILED


def _cmd_report(args: argparse.Namespace, settings: Settings, jira: JiraAdapter, confluence: ConfluenceAdapter,
                state: State) -> int:
    """Print the completion metrics without writing anything."""
    from sync.cycle import run_cycle
    from sync.report import metrics_to_json, render_report_table

    result = run_cycle(settings, jira, confluence, state, apply=False)
    if result.metrics is None:
        print("postmortem-sync: could not compute the report: " + "; ".join(map(str, result.problems)), file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(metrics_to_json(result.metrics), indent=2) if args.json else render_report_table(result.metrics))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace, settings: Settings, jira: JiraAdapter, confluence: ConfluenceAdapter,
               state: State) -> int:
    """Configuration (already valid here), connectivity and permissions, in words a user can act on."""
    from sync.checks import run_checks

    checks = list(run_checks(settings, jira, confluence))
    if args.json:
        print(json.dumps([check.to_json() for check in checks], indent=2))
    else:
        width = max((len(check.name) for check in checks), default=0)
        for check in checks:
            print(f"{'ok  ' if check.passed else 'FAIL'} {check.name:<{width}}  {check.message}")
    ok = all(check.passed for check in checks)
    return EXIT_OK if ok else EXIT_FAILED


def _cmd_demo(args: argparse.Namespace) -> int:
    """Start the sandbox, run a cycle against it, show the results, and serve until Ctrl-C."""
    from sandbox.demo import run_demo

    return run_demo(port=args.port, flavor=args.flavor, serve=not args.no_serve)


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
    _add_sandbox_command(commands)
    for name, handler, help_text in (
        ("run", _cmd_run, "the daemon: sync on a schedule until stopped"),
        ("once", _cmd_once, "run one sync cycle and exit (non-zero if it failed)"),
        ("plan", _cmd_plan, "dry run: print what a cycle would change"),
        ("report", _cmd_report, "print completion metrics without writing"),
        ("check", _cmd_check, "validate configuration, connectivity and permissions"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--config", type=Path, help="configuration file (TOML)")
        if name in ("run", "once"):
            command.add_argument("--force", action="store_true", help="apply plans over the safety limits")
        if name in ("report", "check"):
            command.add_argument("--json", action="store_true", help="print JSON")
        command.set_defaults(handler=_with_config(handler))

    demo = commands.add_parser("demo", help="sandbox + one cycle + summary page, served for a browser")
    demo.add_argument("--port", type=int, default=8990)
    demo.add_argument("--flavor", choices=("cloud", "datacenter"), default="cloud")
    demo.add_argument("--no-serve", action="store_true", help="exit after printing the results")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _add_sandbox_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `sandbox` command and its options."""
    sandbox = commands.add_parser("sandbox", help="serve a local Jira + Confluence stand-in")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8990)
    sandbox.add_argument("--seed-dir", type=Path, help="folder of *.xml pages and users.json")
    sandbox.add_argument("--flavor", choices=("cloud", "datacenter"), default="cloud")
    sandbox.add_argument("--latency-ms", type=int, default=0)
    sandbox.add_argument("--search-lag-ms", type=int, default=0, help="delay before a write shows in JQL and CQL")
    sandbox.add_argument("--timezone", help="the service account's IANA zone (default America/Los_Angeles)")
    sandbox.add_argument("--site-timezone", help="the site's default IANA zone (default America/New_York)")
    sandbox.add_argument("--cql-timezone", choices=("site", "user"), help="whose zone CQL dates use (default site)")
    sandbox.add_argument("--clock-offset-s", type=float, default=0.0,
                         help="start the sandbox's clock this many seconds ahead of this machine's (negative: behind)")
    sandbox.add_argument("--v1-content-gone", action="store_true",
                         help="Cloud: retired Confluence v1 content routes answer 410 Gone through the API gateway")
    sandbox.set_defaults(handler=_cmd_sandbox)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
