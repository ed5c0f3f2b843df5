"""The consumers' ``.npmrc`` files hold only settings npm knows: ``npm ci`` prints no config warning."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

NPM = shutil.which("npm")


@pytest.mark.skipif(NPM is None, reason="npm (Node.js) is not installed")
@pytest.mark.parametrize("consumer", ["node", "web"])
def test_npm_reads_the_project_config_without_a_warning(consumer):
    folder = ROOT / "examples" / consumer
    assert (folder / ".npmrc").is_file()
    r = subprocess.run([NPM, "config", "list"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "warn" not in r.stderr.lower(), r.stderr
    assert "omit-lockfile-registry-resolved = true" in r.stdout  # the project .npmrc was read
