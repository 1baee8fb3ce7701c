"""Deploy helpers that cannot mislead: mangled basic-auth hashes refused at start-up, and
``python -m dashboard.server.security`` (``--help``, password twice from a terminal or once from
stdin, never a traceback)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import pytest

from dashboard.server.config import Config, ConfigError
from dashboard.server.security import hash_password, password_matches, secret_problem

from tests.helpers.paths import REPO as ROOT

HASH = hash_password("correct horse", iterations=1000)
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "STAMP_DEMO": "none"}


def shell_expanded(quote: str) -> str:
    """The value bash really puts in STAMP_BASIC_AUTH for ``STAMP_BASIC_AUTH=<quote>alice:HASH<quote>``."""
    script = f"STAMP_BASIC_AUTH={quote}alice:{HASH}{quote}; printf %s \"$STAMP_BASIC_AUTH\""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout


def test_double_quotes_mangle_the_hash_and_the_server_refuses_it():
    mangled = shell_expanded('"')
    assert mangled != f"alice:{HASH}" and mangled.startswith("alice:pbkdf2_sha256")  # what the README warned about
    with pytest.raises(ConfigError, match=r"STAMP_BASIC_AUTH.*'alice'.*\$ parts missing.*single quotes"):
        Config.from_env({"STAMP_BASIC_AUTH": mangled, "STAMP_DEMO": "none"})
    # the single-quoted form the README shows arrives intact and logs in
    intact = Config.from_env({"STAMP_BASIC_AUTH": shell_expanded("'"), "STAMP_DEMO": "none"})
    assert password_matches(dict(intact.basic_auth)["alice"], "correct horse")


@pytest.mark.parametrize("secret", [
    "pbkdf2_sha256",                      # every $part was an unset variable
    "pbkdf2_sha25600000",                 # $6 (empty positional) + "00000", salt and digest gone
    "pbkdf2_sha256$600000$salt",          # digest cut off
    "sha256",
    "sha256abcdef",
    "sha256$" + "a" * 63,                 # one hex digit short
])
def test_values_that_look_like_cut_hashes_are_refused(secret):
    assert secret_problem(secret) is not None
    with pytest.raises(ConfigError, match="single quotes"):
        Config(basic_auth=(("bob", secret),))


@pytest.mark.parametrize("secret", ["plain password", HASH, "sha256$" + "0f" * 32])
def test_real_secrets_are_accepted(secret):
    assert secret_problem(secret) is None
    assert Config(basic_auth=(("bob", secret),)).basic_auth == (("bob", secret),)


def test_stamp_serve_refuses_to_start_with_one_clear_line(tmp_path, stamp_commands):
    env = {**ENV, "PYTHONPATH": os.environ["PYTHONPATH"],  # the checkout and its declared `stamp serve`
           "STAMP_BASIC_AUTH": shell_expanded('"'), "STAMP_CACHE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "stamp_engine.cli", "serve", "--port", "1"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "STAMP_BASIC_AUTH" in run.stderr and "single quotes" in run.stderr
    assert "Traceback" not in run.stderr


def security_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard.server.security", *args], input=stdin, env=ENV,
                          capture_output=True, text=True, timeout=120)


def printed_secret(stdout: str, user: str) -> str:
    match = re.fullmatch(rf"STAMP_BASIC_AUTH='{user}:(\S+)'\n", stdout)
    assert match, stdout
    return match.group(1)


def test_help_is_help_not_a_user_name():
    run = security_cli("--help")
    assert run.returncode == 0 and "usage: python -m dashboard.server.security" in run.stdout
    assert "STAMP_BASIC_AUTH='--help" not in run.stdout and run.stderr == ""


def test_one_line_of_stdin_is_the_password():
    run = security_cli("alice", stdin="correct horse\n")
    assert run.returncode == 0, run.stderr
    secret = printed_secret(run.stdout, "alice")
    assert password_matches(secret, "correct horse") and not password_matches(secret, "correct horse\n")
    # the printed line, pasted into a shell as it is, gives the server a usable value
    value = subprocess.run(["bash", "-c", run.stdout.strip() + '; printf %s "$STAMP_BASIC_AUTH"'],
                           capture_output=True, text=True, check=True).stdout
    assert Config.from_env({"STAMP_BASIC_AUTH": value, "STAMP_DEMO": "none"}).basic_auth == (("alice", secret),)


@pytest.mark.parametrize("args, stdin, message", [
    (("alice",), "", "Empty password"),
    (("al:ice",), "pw\n", "may not be empty or hold ':'"),
    (("alice", "bob"), "pw\n", "unrecognized arguments"),
])
def test_bad_input_is_one_message_never_a_traceback(args, stdin, message):
    run = security_cli(*args, stdin=stdin)
    assert run.returncode != 0 and run.stdout == ""
    assert message in run.stderr and "Traceback" not in run.stderr


def _read_until(fd: int, text: str, timeout: float = 60.0) -> str:
    seen, deadline = b"", time.monotonic() + timeout
    while text.encode() not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} on the terminal; got {seen!r}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 1024)
    return seen.decode(errors="replace")


@pytest.mark.parametrize("again, ok", [("correct horse", True), ("correct hose", False)])
def test_from_a_terminal_the_password_is_asked_twice(again, ok):
    master, slave = os.openpty()
    # A new session has no controlling terminal, so getpass talks to the pty on stdin/stderr.
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.server.security", "alice"], stdin=slave, stderr=slave,
                            stdout=subprocess.PIPE, env=ENV, text=True, start_new_session=True)
    os.close(slave)
    try:
        _read_until(master, "Password for alice:")
        os.write(master, b"correct horse\n")
        _read_until(master, "Again:")
        os.write(master, again.encode() + b"\n")
        if not ok:
            _read_until(master, "differ")  # said on the terminal, nothing printed
        stdout, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    if ok:
        assert proc.returncode == 0
        assert password_matches(printed_secret(stdout, "alice"), "correct horse")
    else:
        assert proc.returncode == 1 and stdout == ""


def test_the_wsgi_entry_point_refuses_to_start_with_one_clear_line(tmp_path):
    # gunicorn imports dashboard.server.wsgi in every worker: the refusal must be a message, not a traceback
    env = {**ENV, "STAMP_BASIC_AUTH": shell_expanded('"'), "STAMP_CACHE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", "import dashboard.server.wsgi"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().startswith("STAMP cannot start: STAMP_BASIC_AUTH"), run.stderr
    assert "single quotes" in run.stderr and "Traceback" not in run.stderr
