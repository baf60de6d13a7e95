"""Core: `sluice check-config` accepts a good file and reports every problem of a bad one as `FILE: key: reason`."""

import re
import subprocess

import pytest

import support

pytestmark = pytest.mark.sluice_only


def check_config(path):
    support.require_binary()
    return subprocess.run([support.SLUICE_BIN, "check-config", "--config", str(path)],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                          env=support.sluice_environment())


def problems(path, output):
    """{key: reason} from the `FILE: key: reason` lines of output."""
    pattern = re.compile(r"^" + re.escape(str(path)) + r": ([^:\s]+): (.+)$")
    found = {}
    for line in output.splitlines():
        match = pattern.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_good_config_passes(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(support.render_config(support.sluice_config(), support.free_port()))
    result = check_config(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_config_reports_file_key_reason(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(f"""
[sluice]
listen = "127.0.0.1:6432"
pool_mode = "sometimes"
client_auth = "kerberos"

[databases.app]
url = "mysql://app:app-secret@127.0.0.1:{support.PG_PORT}/app"
pool_size = -1
""")
    result = check_config(path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    found = problems(path, output)
    for key in ("sluice.pool_mode", "sluice.client_auth", "databases.app.url", "databases.app.pool_size"):
        assert key in found, f"no `{path}: {key}: reason` line in:\n{output}"
        assert found[key].strip(), f"empty reason for {key}"
    assert "sometimes" in found["sluice.pool_mode"] or "transaction" in found["sluice.pool_mode"], found


def test_missing_databases_and_bad_listen(tmp_path):
    path = tmp_path / "nodb.toml"
    path.write_text('[sluice]\nlisten = "not-an-address"\npool_mode = "transaction"\n')
    result = check_config(path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    found = problems(path, output)
    assert "sluice.listen" in found, output


def test_toml_syntax_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[sluice\nlisten = "127.0.0.1:6432"\n')
    result = check_config(path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert any(line.startswith(f"{path}:") for line in output.splitlines()), output


def test_sluice_refuses_to_start_with_a_bad_config(tmp_path):
    path = tmp_path / "bad-start.toml"
    path.write_text(f"""
[sluice]
listen = "127.0.0.1:{support.free_port()}"
pool_mode = "sometimes"

[databases.app]
url = "{support.upstream_url()}"
""")
    support.require_binary()
    proc = subprocess.run([support.SLUICE_BIN, "--config", str(path)], capture_output=True, text=True,
                          timeout=15, stdin=subprocess.DEVNULL, env=support.sluice_environment())
    assert proc.returncode != 0
    assert f"{path}: sluice.pool_mode:" in proc.stdout + proc.stderr
