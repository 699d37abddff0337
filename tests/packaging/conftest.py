"""Builds the Lambda package and merged SAM template once per test session, the way `make package` does:

    chalice package --stage prod --merge-template infra/resources.yaml <out>

It builds from a scratch copy of the working tree (minus .venv, .git, caches and Chalice's package
cache), so a run never adds a 25 MB zip to .chalice/deployments/ and never ships a stale __pycache__.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.packaging import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAGE = "prod"
REGION = "eu-west-1"
# The only statement of .chalice/fallback-policy.json: a role still carrying it was not overridden.
FALLBACK_POLICY_SID = "FallbackOnlyLambdaLogsInfraResourcesYamlReplacesThisPerRole"

# Top-level names never copied into the scratch project (caches, local state, other build output).
_SKIP_TOP = {".venv", ".git", "build", ".dunwell", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}


@dataclass(frozen=True)
class Package:
    project: Path  # the scratch copy the package was built from
    out: Path
    template_path: Path
    template: dict[str, Any]
    zip_names: frozenset[str]


def tool(name: str) -> str:
    """A console script of the running venv (chalice, cfn-lint), whatever PATH says."""
    path = BIN / name
    assert path.exists(), f"{name} not found next to {sys.executable}: run `make install`"
    return str(path)


def clean_env() -> dict[str, str]:
    """The current environment without any AWS credentials, profile or endpoint, plus a region
    (chalice needs one to package; it needs no credentials). PIP_* and proxies stay: chalice runs pip."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHALICE_"))}
    env["AWS_DEFAULT_REGION"] = REGION
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_CONFIG_FILE"] = os.devnull
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _ignore(directory: str, names: list[str]) -> set[str]:
    here = Path(directory).resolve()
    skipped = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
    if here == ROOT:
        skipped |= _SKIP_TOP & set(names)
    if here == ROOT / ".chalice":
        skipped |= {"deployments", "venv"} & set(names)
    return skipped


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Package]:
    base = tmp_path_factory.mktemp("package")
    project = base / "project"
    # symlinks=True keeps vendor/templates -> ../templates a symlink, as in the repository.
    shutil.copytree(ROOT, project, symlinks=True, ignore=_ignore)
    out = base / "out"
    result = subprocess.run(
        [tool("chalice"), "package", "--stage", STAGE, "--merge-template", "infra/resources.yaml", str(out)],
        cwd=project, env=clean_env(), capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, f"chalice package failed:\n{result.stdout}\n{result.stderr}"
    template_path = out / "sam.yaml"
    with zipfile.ZipFile(out / "deployment.zip") as z:
        names = frozenset(z.namelist())
    yield Package(project, out, template_path, cfn_yaml.load(template_path), names)
    shutil.rmtree(base, ignore_errors=True)
