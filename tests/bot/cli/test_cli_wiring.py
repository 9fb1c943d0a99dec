"""``seatbot quote`` and ``seatbot users`` run as real processes against the sandbox platforms."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from bot.offline.standin.slack_api import serve_asgi
from platforms.sandbox import SandboxApp, SandboxConfig
from platforms.types import Product

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE_SANDBOX_URL = "http://127.0.0.1:8765"


async def _seatbot(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from bot.cli import main; main()", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def accounts_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(sandbox_url: str) -> Path:
        for extra in EXAMPLES.iterdir():
            if extra.name != "accounts.yml":
                (tmp_path / extra.name).write_bytes(extra.read_bytes())
        text = (EXAMPLES / "accounts.yml").read_text(encoding="utf-8")
        target = tmp_path / "accounts.yml"
        target.write_text(text.replace(EXAMPLE_SANDBOX_URL, sandbox_url), encoding="utf-8")
        return target

    return write


@pytest.mark.slow
async def test_quote_and_users_consult_the_platform(tmp_path: Path, accounts_for) -> None:  # type: ignore[no-untyped-def]
    sandbox = SandboxApp(SandboxConfig())
    sandbox.set_account("acme", Product.CONTACT_CENTER, users=23, seed=7)
    server = serve_asgi(sandbox)
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'seatbot.db'}")
    try:
        code, _, err = await _seatbot(env, "load", str(accounts_for(server.url)))
        assert code == 0, err

        code, out, err = await _seatbot(env, "quote", "acme", "contact_center", "20", "--json")
        assert code == 0, err
        check = json.loads(out)["platform_check"]
        assert check["status"] == "blocked"
        assert "23 users exist" in check["detail"]
        assert "delete 3" in check["detail"]

        code, out, err = await _seatbot(env, "quote", "acme", "contact_center", "24", "--json")
        assert code == 0, err
        assert json.loads(out)["platform_check"]["status"] == "passed"

        code, out, err = await _seatbot(env, "users", "acme", "contact_center", "--json")
        assert code == 0, err
        report = json.loads(out)
        assert report["user_count"] == 23
        assert len(report["users"]) == 23
        assert "sandbox-api-key" not in out + err
    finally:
        await server.stop()


@pytest.mark.slow
async def test_quote_refuses_a_decrease_when_the_platform_is_down(
    tmp_path: Path,
    accounts_for,  # type: ignore[no-untyped-def]
) -> None:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'seatbot.db'}")
    # Nothing listens on the port the file names: the platform cannot be read.
    code, _, err = await _seatbot(env, "load", str(accounts_for("http://127.0.0.1:9")))
    assert code == 0, err
    code, out, err = await _seatbot(env, "quote", "acme", "contact_center", "20", "--json")
    assert code == 1, err  # the README: a platform that cannot be read is a failure
    assert err.startswith("seatbot: the platform check could not be done: ")
    check = json.loads(out)["platform_check"]
    assert check["status"] == "unknown"
    assert "nothing was changed" in check["detail"]

    code, _, err = await _seatbot(env, "users", "acme", "nonsense")
    assert code == 2
    assert "not a product" in err
