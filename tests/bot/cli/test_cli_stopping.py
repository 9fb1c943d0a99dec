"""Ctrl-C and SIGTERM keep to the README's exit statuses: a server-like command stops cleanly
(status 0, a line saying it stopped), a command stopped mid-work says so (status 1); never
status 130 with nothing said. Each command runs as a process, signalled once its banner says
it is ready."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SECRET = "whsec_" + "A" * 43

#: The command, the line that says it is ready, and the line it ends its output with.
SERVERS = {
    "sandbox": (["sandbox", "--port", "0"], "Sandbox platforms on", "Sandbox platforms stopped"),
    "webhooks listen": (
        ["webhooks", "listen", "--port", "0", "--secret", SECRET],
        "listening on http://127.0.0.1:",
        "The webhook receiver stopped",
    ),
    # Waiting at its prompt: its input stays open, nothing more is typed.
    "dev": (["dev", "--port", "0"], "Type `help` for the commands.", "Seatbot dev stopped"),
}


def _signalled_when_ready(
    args: list[str], ready: str, sig: signal.Signals, tmp_path: Path
) -> tuple[int, str, str]:
    """Run ``seatbot ARGS``, send ``sig`` once a line of its output contains ``ready``; its
    exit status, its whole output and its errors."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SLACK_", "SEATBOT_"))}
    env.update(PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,  # kept open: `seatbot dev` waits at its prompt
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        try:
            lines = []
            for line in process.stdout:
                lines.append(line)
                if ready in line:
                    process.send_signal(sig)
                    break
            status = process.wait(timeout=60)
            return status, "".join(lines) + process.stdout.read(), process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("command", sorted(SERVERS))
def test_a_server_like_command_stopped_by_a_signal_exits_0_saying_so(
    command: str, sig: signal.Signals, tmp_path: Path
) -> None:
    args, ready, stopped = SERVERS[command]
    status, out, err = _signalled_when_ready(args, ready, sig, tmp_path)
    assert (status, err) == (0, ""), out
    assert out.endswith(f"{stopped}\n")


def test_the_demo_stopped_by_ctrl_c_midway_says_interrupted_and_exits_1(tmp_path: Path) -> None:
    status, out, err = _signalled_when_ready(
        ["demo"], "1. What do we pay for", signal.SIGINT, tmp_path
    )
    assert (status, err) == (1, "seatbot: interrupted\n"), out
    assert "Traceback" not in out
