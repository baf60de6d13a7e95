"""`sluice top` as a person sees it: under tmux at 80×24 against a Sluice with real PostgreSQL and a
client holding a transaction open, and `--once` as a script reads it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time

import pytest

import support

pytestmark = pytest.mark.sluice_only

TMUX = shutil.which("tmux")


@pytest.fixture
def watched(sluice):
    """A Sluice with the console, /metrics and a 1 s leak threshold; a client holding a transaction open.

    Yields (process, holder connection). A few transactions ran first, so the wait histogram has data."""
    admin_port = support.free_port()
    process = sluice(support.sluice_config(
        pool_size=5, admin_users=["app"], admin_listen=f"127.0.0.1:{admin_port}",
        leak_detection_threshold=1, log_leak_queries=True))
    support.wait_until(lambda: support.port_accepts("127.0.0.1", admin_port), 10, message="admin_listen")
    warm = process.connect(application_name="top-warmup")
    with warm.cursor() as cur:
        for _ in range(20):
            cur.execute("SELECT 1")
    warm.close()
    holder = process.connect(autocommit=False, application_name="top-holder")
    with holder.cursor() as cur:
        cur.execute("SELECT 42")  # the transaction stays open: the server stays with this client
    support.wait_until(lambda: b"leak suspect" in process.log_path.read_bytes(), 10,
                       message="the holder to become a leak suspect")
    yield process
    holder.rollback()
    holder.close()


def top_command(process, *args: str) -> list[str]:
    support.require_binary()
    return [support.SLUICE_BIN, "top", "--url", f"host=127.0.0.1 port={process.port} dbname=sluice user=app", *args]


def top_environment() -> dict[str, str]:
    env = support.sluice_environment({"PGPASSWORD": "app-secret", "PGSSLMODE": "disable", "TERM": "xterm-256color"})
    return {k: v for k, v in env.items() if k not in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE")}


def pool_row(lines: list[str]) -> list[str]:
    rows = [line.split() for line in lines if line.startswith("app ")]
    assert rows, "\n".join(lines)
    return rows[0]


def check_screen(lines: list[str]) -> None:
    """The pool row and the holding client as an operator reads them."""
    text = "\n".join(lines)
    assert lines[0].startswith("sluice top  127.0.0.1:"), text
    assert "metrics ok" in lines[0], text
    cells = pool_row(lines)
    # app | cl.act idle wait maxwait | wait.p99 | sv.act idle used test login | size
    assert cells[1:5] == ["1", "0", "0", "0.0s"], text
    assert cells[6:12] == ["1", "0", "0", "0", "0", "5"], text
    assert cells[12:] in ([], ["transaction"]), text  # the mode column, from 100 columns on
    upstream = [line.split() for line in lines if line.startswith("app ") and " warm " in line]
    assert upstream and upstream[0][2] == "1" and upstream[0][-1] == f"127.0.0.1:{support.PG_PORT}", text
    assert upstream[0][4].endswith("ms") or upstream[0][4].endswith("us"), text  # connect latency from /metrics
    holders = [line for line in lines if "top-holder" in line]
    # once under LEAK SUSPECTS (held > 1 s), once under HOLDING SERVERS
    assert len(holders) == 2, text
    for line in holders:
        cells = line.split()
        assert cells[1:3] == ["app", "top-holder"], line
        assert cells[3].startswith("127.0.0.1:") and cells[4] == "T", line
        assert cells[5:] == ["SELECT", "42"], line  # log_leak_queries = true
        assert float(cells[0].rstrip("s")) >= 1.0, line
    assert "LEAK SUSPECTS (held > 1s)" in text and "HOLDING SERVERS (longest first)" in text, text


class Tmux:
    """One tmux server of its own (socket name per test), 80×24, no status line, dead panes kept."""

    def __init__(self, tmp_path):
        self.name = f"sluice-top-{os.getpid()}-{time.monotonic_ns()}"
        self.conf = tmp_path / "tmux.conf"
        self.status_file = tmp_path / "top.status"
        self.conf.write_text("set -g status off\nset -g remain-on-exit on\n")

    def run(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.name, "-f", str(self.conf), *args],
                              capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr}"
        return done.stdout

    def start(self, command: list[str], env: dict[str, str]) -> None:
        # A shell around the command writes its exit status to a file: tmux 3.3 sometimes marks a pane
        # dead (its terminal closed) without ever filling #{pane_dead_status}.
        self.status_file.unlink(missing_ok=True)
        wrapper = ["/bin/sh", "-c", f'"$@"; echo $? > {shlex.quote(str(self.status_file))}', "sh", *command]
        line = "exec env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " " + shlex.join(wrapper)
        self.run("new-session", "-d", "-s", "top", "-x", "80", "-y", "24", line)

    def exit_status(self, timeout: float = 5) -> int:
        """The command's exit status, once it has exited (and the pane with it)."""
        support.wait_until(lambda: self.status_file.exists() and self.status_file.read_text().strip(), timeout,
                           message="sluice top to exit")
        support.wait_until(lambda: self.value("pane_dead") == "1", timeout, message="the pane to close")
        return int(self.status_file.read_text())

    def command_pid(self) -> int:
        """The pid of the command (the child of the pane's shell)."""
        shell = int(self.value("pane_pid"))
        children = support.wait_until(lambda: open(f"/proc/{shell}/task/{shell}/children").read().split(), 5,
                                      message="the command to start")
        return int(children[0])

    def screen(self) -> list[str]:
        return self.run("capture-pane", "-p", "-t", "top").split("\n")[:-1]

    def value(self, name: str) -> str:
        return self.run("display-message", "-p", "-t", "top", f"#{{{name}}}").strip()

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux(tmp_path):
    if TMUX is None:
        pytest.fail("tmux is not installed (scripts/test installs it: SLUICE_APT_PACKAGES)", pytrace=False)
    session = Tmux(tmp_path)
    yield session
    session.kill()


def wait_for_screen(tmux: Tmux, predicate, timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = tmux.screen()
        if predicate(lines):
            return lines
        if tmux.value("pane_dead") == "1":
            break
        time.sleep(0.2)
    pytest.fail("sluice top's screen never showed what was expected:\n" + "\n".join(lines), pytrace=False)


def test_top_under_tmux_shows_pool_and_holder_then_quits_on_q(watched, tmux):
    tmux.start(top_command(watched), top_environment())
    lines = wait_for_screen(tmux, lambda ls: sum("top-holder" in line for line in ls) == 2)
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines), "\n".join(lines)
    assert tmux.value("alternate_on") == "1"
    check_screen(lines)
    # The held time keeps counting: the screen refreshes by itself.
    first = float(lines[[i for i, l in enumerate(lines) if "top-holder" in l][-1]].split()[0].rstrip("s"))
    later = wait_for_screen(tmux, lambda ls: any("top-holder" in l and float(l.split()[0].rstrip("s")) >= first + 1
                                                 for l in ls))
    check_screen(later)
    tmux.run("send-keys", "-t", "top", "q")
    assert tmux.exit_status() == 0
    assert tmux.value("alternate_on") == "0", "the terminal was not given back (alternate screen still on)"


def test_top_redraws_on_resize_and_restores_the_terminal_on_sigterm(watched, tmux):
    # A refresh only every 60 s: whatever is redrawn sooner was redrawn by SIGWINCH.
    tmux.start(top_command(watched, "--interval", "60"), top_environment())
    wait_for_screen(tmux, lambda ls: sum("top-holder" in line for line in ls) == 2)
    tmux.run("resize-window", "-t", "top", "-x", "120", "-y", "30")
    wide = wait_for_screen(tmux, lambda ls: any(l.startswith("app ") and l.split()[-1] == "transaction" for l in ls),
                           timeout=5)
    assert len(wide) == 30 and max(len(line) for line in wide) > 80, "\n".join(wide)
    check_screen(wide)
    os.kill(tmux.command_pid(), 15)
    assert tmux.exit_status() == 143
    assert tmux.value("alternate_on") == "0", "the terminal was not given back after SIGTERM"


def test_top_once_prints_one_plain_frame(watched):
    done = subprocess.run(top_command(watched, "--once"), capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=top_environment())
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), done.stdout
    check_screen(lines)
    # Cumulative since start in --once: the warm-up's 20 checkouts give a wait p99.
    assert pool_row(lines)[5] != "-", done.stdout
    wide = subprocess.run(top_command(watched, "--once", "--width", "140"), capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL, env=top_environment())
    assert wide.returncode == 0 and "transaction" in pool_row(wide.stdout.splitlines()), wide.stdout


def test_top_bad_inputs_get_clear_errors():
    env = top_environment()
    nobody = f"host=127.0.0.1 port={support.free_port()} dbname=sluice user=app password=s3cret"
    support.require_binary()

    def top(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([support.SLUICE_BIN, "top", "--url", nobody, *args], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL, env=env)

    unreachable = top("--once")
    assert unreachable.returncode == 1
    assert "cannot read the admin console" in unreachable.stderr and "s3cret" not in unreachable.stderr
    no_tty = top()
    assert no_tty.returncode == 2 and "use --once" in no_tty.stderr
    for args, message in ((["--interval", "0"], "--interval"), (["--metrics", "ftp://x"], "http://host:port/path"),
                          (["--width", "5"], "--width")):
        bad = top("--once", *args)
        assert bad.returncode != 0 and message in bad.stderr, bad.stderr
