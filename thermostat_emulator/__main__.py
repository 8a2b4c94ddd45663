"""Run the emulator: `python -m thermostat_emulator --host 127.0.0.1 --port 5001 ...`."""

from __future__ import annotations

import argparse
import signal
import sys

from waitress import create_server

from . import create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m thermostat_emulator", description="Local Thermostat (thermostat.io)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001, help="0 picks a free port")
    parser.add_argument("--db", help="SQLite file (default instance/emulator.sqlite)")
    parser.add_argument("--token", help="an API token valid from startup")
    parser.add_argument("--rate-limit", type=int, help="API calls per window per token")
    parser.add_argument("--rate-window", type=float, help="throttle window in seconds")
    parser.add_argument("--plan-limit", type=int, help="emails per month")
    parser.add_argument("--push-url", help="where to push each saved response")
    parser.add_argument("--push-secret", help="HMAC secret for pushes")
    args = parser.parse_args(argv)
    if (args.push_url is None) != (args.push_secret is None):
        parser.error("--push-url and --push-secret go together")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the app from the arguments and serve it with waitress until SIGINT/SIGTERM."""
    args = parse_args(argv)
    config = {
        key: value
        for key, value in {
            "EMULATOR_DB": args.db,
            "EMULATOR_TOKEN": args.token,
            "EMULATOR_RATE_LIMIT": args.rate_limit,
            "EMULATOR_RATE_WINDOW": args.rate_window,
            "EMULATOR_PLAN_LIMIT": args.plan_limit,
            "EMULATOR_PUSH_URL": args.push_url,
            "EMULATOR_PUSH_SECRET": args.push_secret,
        }.items()
        if value is not None
    }
    app = create_app(config)
    server = create_server(app, host=args.host, port=args.port, threads=8)

    def _stop(_signum, _frame):
        # waitress's loop treats KeyboardInterrupt as "shut down cleanly".
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"Thermostat emulator on http://{args.host}:{server.effective_port}", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print("Thermostat emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
