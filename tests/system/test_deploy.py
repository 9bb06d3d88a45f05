"""The deployment files in deploy/: what docs/deploy.md shows, and what their own tools accept.

`systemd-analyze verify` and `nginx -t` run where they are installed (the test skips, saying
which is missing, elsewhere); nginx gets a self-signed certificate made in a temp dir.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testkit import ROOT

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "digit-cluster-bot.service"
NGINX_SITE = DEPLOY / "nginx-digit-cluster-bot.conf"
SHIPPED_PYTHON = "/srv/digit-cluster-bot/.venv/bin/python"
CERT_DIR = "/etc/letsencrypt/live/bot.example.org"


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip(f"{name} is not installed here; the file is only checked where it is")
    return path


def test_the_guide_shows_each_file_as_it_is() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for path in sorted(DEPLOY.iterdir()):
        assert path.read_text().strip() in guide, f"docs/deploy.md differs from {path.name}"


def test_env_example_names_only_real_settings() -> None:
    from bot.settings import Settings

    names = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert names <= {field.upper() for field in Settings.model_fields}
    assert {"TELEGRAM_BOT_TOKEN", "DATABASE_URL", "WEBHOOK_URL", "WEBHOOK_PORT"} <= names


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    """Verified as shipped, but for ExecStart's interpreter, which exists only once installed."""
    analyze = _tool("systemd-analyze")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(SHIPPED_PYTHON, sys.executable))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""  # unknown keys and bad values are only warnings


def test_the_nginx_site_passes_nginx_t_with_a_self_signed_certificate(tmp_path: Path) -> None:
    nginx = _tool("nginx")
    openssl = _tool("openssl")
    subprocess.run(
        [
            openssl,
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=bot.example.org"),
            *("-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = tmp_path / "site.conf"
    site.write_text(NGINX_SITE.read_text().replace(CERT_DIR, str(tmp_path)))
    temp = tmp_path / "temp"
    temp.mkdir()
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        + "".join(
            f"    {kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    access_log off;\n    include {site};\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "[warn]" not in result.stderr
