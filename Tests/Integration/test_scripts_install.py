"""The install step of scripts/quickstart and scripts/test (scripts/lib/common.sh), run as those
scripts run it: under `set -euo pipefail`.

A pipeline such as `apt-cache policy P | grep -q ...` once read as "no candidate" for every package
(grep -q exits at its first match, apt-cache dies of SIGPIPE, pipefail reports 141), so the install
step failed on every machine that lacked a package, while CI, whose machine had them all, stayed
green. These tests check the candidate lookup for every listed package whether or not it is
installed, and .ci/run removes one package before scripts/test so that the install itself runs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("apt-cache") is None, reason="needs Debian's apt")


def bash(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; . scripts/lib/common.sh; {script}"],
        cwd=REPO, capture_output=True, text=True, timeout=300)


def listed_packages() -> list[str]:
    result = bash('printf "%s\\n" "${SLUICE_APT_PACKAGES[@]}"')
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_every_listed_package_has_an_apt_candidate():
    packages = listed_packages()
    assert "pgbouncer" in packages and "default-jre-headless" in packages
    for package in packages:
        result = bash(f"sluice_apt_candidate {package}")
        assert result.returncode == 0, result.stderr
        if package == "python3-venv" and not result.stdout:
            continue  # a pyenv python3 has venv built in; the check allows that
        assert result.stdout.strip(), f"no apt candidate found for {package}: {result.stderr}"


def test_every_listed_package_says_why_it_is_needed():
    for package in listed_packages():
        result = bash(f'printf "%s" "${{SLUICE_APT_WHY[{package}]:-}}"')
        assert result.stdout.strip(), f"SLUICE_APT_WHY has no reason for {package}"


def test_installability_check_passes_as_the_scripts_run_it():
    result = bash("sluice_check_installable")
    assert result.returncode == 0, result.stderr
    assert "installable" in result.stderr


def test_a_package_apt_does_not_know_fails_the_install_step_clearly():
    result = bash('SLUICE_APT_PACKAGES=(sluice-no-such-package); '
                  'SLUICE_APT_WHY[sluice-no-such-package]="a test"; sluice_install_deps')
    assert result.returncode != 0
    assert "apt has no candidate for package sluice-no-such-package (needed for: a test)" in result.stderr
