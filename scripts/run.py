"""`make run`: migrate, seed, and start everything a newcomer needs on one machine.

Starts an embedded Redis (unless REDIS_URL is set), the Thermostat emulator (unless
THERMOSTAT_BASE_URL is set), a local SMTP sink that catches every email the helpdesk sends
(unless SMTP_HOST is set), the web app, an RQ worker and RQ's cron scheduler. Ctrl-C stops
them all.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.stack import ROOT, Stack, port_open  # noqa: E402

WEB_PORT = int(os.environ.get("PORT", "5000"))
EMULATOR_PORT = int(os.environ.get("EMULATOR_PORT", "5001"))
REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "6390"))
SMTP_SINK_PORT = int(os.environ.get("SMTP_SINK_PORT", "8025"))
# The sink answers 550 to these recipients, so a failed email can be shown on purpose.
SMTP_SINK_REFUSE = os.environ.get("SMTP_SINK_REFUSE", "^bounce@")


def main() -> int:
    """Run the whole stack until Ctrl-C."""
    instance = Path(os.environ.get("HELPDESK_INSTANCE_DIR", ROOT / "instance"))
    instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("HELPDESK_URL", f"http://127.0.0.1:{WEB_PORT}")
    env.setdefault("PYTHONUNBUFFERED", "1")
    stack = Stack(env=env)

    def stop(*_args):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started with SIGINT ignored (nohup, &)
    for port, what in [(WEB_PORT, "the web app (PORT)")]:
        if port_open(port):
            print(f"Port {port} is taken; set {what.split('(')[1][:-1]}=another port.")
            return 1
    try:
        if "REDIS_URL" not in os.environ:
            if port_open(REDIS_PORT):
                print(f"Port {REDIS_PORT} is taken; set EMBEDDED_REDIS_PORT or REDIS_URL.")
                return 1
            stack.start_redis(REDIS_PORT, instance)
            env["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
        if "THERMOSTAT_BASE_URL" not in os.environ:
            if port_open(EMULATOR_PORT):
                print(f"Port {EMULATOR_PORT} is taken; set EMULATOR_PORT or THERMOSTAT_BASE_URL.")
                return 1
            stack.start_emulator(EMULATOR_PORT, instance / "emulator.sqlite")
            env["THERMOSTAT_BASE_URL"] = f"http://127.0.0.1:{EMULATOR_PORT}"
        if "SMTP_HOST" not in os.environ:
            if port_open(SMTP_SINK_PORT):
                print(f"Port {SMTP_SINK_PORT} is taken; set SMTP_SINK_PORT or SMTP_HOST.")
                return 1
            mail_dir = Path(env.get("MAIL_SINK_DIR") or instance / "mail")
            stack.start_smtp_sink(SMTP_SINK_PORT, mail_dir,
                                  ["--refuse", SMTP_SINK_REFUSE] if SMTP_SINK_REFUSE else None)
            env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(SMTP_SINK_PORT),
                       MAIL_SINK_DIR=str(mail_dir))
        stack.flask("db", "upgrade")
        stack.flask("seed-demo")
        stack.start_web(WEB_PORT)
        stack.start_worker()
        stack.start_cron()
        print()
        print(f"  Helpdesk:            http://127.0.0.1:{WEB_PORT}/")
        print(f"  Thermostat emulator: {env['THERMOSTAT_BASE_URL']}/  (outbox: /outbox)")
        print(f"  Redis:               {env['REDIS_URL']}")
        if "SMTP_HOST" not in os.environ:
            print(f"  Mail (caught):       http://127.0.0.1:{WEB_PORT}/admin/mail/  (SMTP sink on "
                  f"127.0.0.1:{SMTP_SINK_PORT}, nothing leaves this machine; it refuses "
                  f"recipients matching {SMTP_SINK_REFUSE!r} to show a failed send)")
        else:
            print(f"  Mail:                sent through {env['SMTP_HOST']}:"
                  f"{env.get('SMTP_PORT', '8025')}")
        print("  Log in as admin@example.com / admin-password (agent: agent@example.com / "
              "agent-password)")
        print("  Ctrl-C stops everything.")
        print()
        while True:
            dead = stack.dead()
            if dead:
                names = ", ".join(f"{p.name} (exit {p.popen.returncode})" for p in dead)
                print(f"Stopping: {names} exited.")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping…")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
