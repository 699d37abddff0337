"""What the Lambda zip ships: the app, its library, the message templates; nothing else from the repo."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.packaging.conftest import Package

pytestmark = pytest.mark.slow

# Repository entries that reach the zip: app.py and chalicelib/ directly, templates/ through vendor/.
SHIPPED_FROM_REPO = {"app.py", "chalicelib", "vendor", "templates"}


def _top_level(names: frozenset[str]) -> set[str]:
    return {name.split("/", 1)[0] for name in names}


def test_ships_app_and_every_chalicelib_module(package: Package) -> None:
    assert "app.py" in package.zip_names
    sources = {
        path.relative_to(package.project).as_posix()
        for path in (package.project / "chalicelib").rglob("*")
        if path.is_file()
    }
    assert "chalicelib/__init__.py" in sources
    missing = sorted(sources - package.zip_names)
    assert not missing, f"chalicelib files missing from the zip: {missing}"


def test_ships_templates_at_task_root(package: Package) -> None:
    # vendor/ contents land at the zip root, i.e. /var/task/templates next to app.py.
    assert "templates/base.html.j2" in package.zip_names
    assert "templates/base.txt.j2" in package.zip_names
    repo_templates = {
        path.relative_to(package.project).as_posix()
        for path in (package.project / "templates").rglob("*")
        if path.is_file()
    }
    assert repo_templates <= package.zip_names, sorted(repo_templates - package.zip_names)
    assert not any(name.startswith("vendor/") for name in package.zip_names)


def test_ships_nothing_else_from_the_repository(package: Package) -> None:
    repo_entries = {path.name for path in package.project.iterdir()}
    leaked = (_top_level(package.zip_names) & repo_entries) - SHIPPED_FROM_REPO
    assert not leaked, f"repository entries shipped to Lambda: {sorted(leaked)}"
    for forbidden in ("tests", ".venv", ".chalice", "infra", "build", ".dunwell", "bench", ".git"):
        assert forbidden not in _top_level(package.zip_names), forbidden


def test_ships_no_bytecode_of_our_own(package: Package) -> None:
    # The scratch copy has no __pycache__, so any .pyc here would come from somewhere unexpected.
    ours = [n for n in package.zip_names if n.startswith(("chalicelib/", "templates/")) or n == "app.pyc"]
    assert not [n for n in ours if n.endswith(".pyc") or "__pycache__" in n]


def test_ships_pinned_runtime_dependencies_not_dev_tools(package: Package) -> None:
    top = _top_level(package.zip_names)
    for runtime in ("pynamodb", "jinja2", "aws_lambda_powertools", "botocore", "boto3"):
        assert runtime in top, runtime
    for dev_only in ("moto", "cfnlint", "pytest", "_pytest", "mypy", "ruff", "hypothesis"):
        assert dev_only not in top, dev_only
    # Chalice's own runtime (chalice/app.py) is vendored by chalice itself; the CLI is not.
    assert {n for n in package.zip_names if n.startswith("chalice/")} <= {"chalice/__init__.py", "chalice/app.py"}


def test_compiled_dependencies_are_manylinux_wheels_not_built_here(package: Package) -> None:
    """A wheel `chalice package` could not download for Lambda's platform is built from source against this
    machine's libraries (tag linux_x86_64) and may not load on Lambda: Pillow 13 did, for want of a manylinux2014
    wheel. Every compiled dependency must be a manylinux wheel."""
    zipped = zipfile.ZipFile(package.out / "deployment.zip")
    local = []
    for name in package.zip_names:
        if name.endswith(".dist-info/WHEEL"):
            tags = [line for line in zipped.read(name).decode().splitlines() if line.startswith("Tag:")]
            if any(tag.endswith("-linux_x86_64") for tag in tags):
                local.append(name.split("/")[0])
    assert not local, f"built from source, not manylinux: {local}"


def test_every_function_uses_the_built_zip(package: Package) -> None:
    functions = {
        name: res for name, res in package.template["Resources"].items()
        if res.get("Type") == "AWS::Serverless::Function"
    }
    assert functions
    for name, res in functions.items():
        code_uri = res["Properties"]["CodeUri"]
        assert (package.out / Path(code_uri)).resolve() == (package.out / "deployment.zip").resolve(), name
