"""The dependency rule: the domain and the parsers are pure; only adapters speak AWS."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AWS_OR_FRAMEWORK = ("boto3", "botocore", "pynamodb", "chalice", "aws_lambda_powertools", "moto")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["domain", "formats", "services"])
def test_pure_packages_import_no_aws_or_framework(package):
    for path in (ROOT / "chalicelib" / package).rglob("*.py"):
        bad = {m for m in imported_modules(path) if m.split(".")[0] in AWS_OR_FRAMEWORK}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_domain_imports_only_the_domain():
    for path in (ROOT / "chalicelib" / "domain").rglob("*.py"):
        inner = {m for m in imported_modules(path) if m.startswith("chalicelib.")}
        assert all(m.startswith("chalicelib.domain") for m in inner), f"{path.name} imports {inner}"


def test_services_do_not_import_adapters_or_api():
    for path in (ROOT / "chalicelib" / "services").rglob("*.py"):
        inner = {m for m in imported_modules(path) if m.startswith("chalicelib.")}
        bad = {m for m in inner if m.startswith(("chalicelib.adapters", "chalicelib.api", "chalicelib.bootstrap"))}
        assert not bad, f"{path.name} imports {bad}"


def test_reset_forgets_every_cached_builder() -> None:
    """A builder missing from reset() keeps one test's adapters (and settings) for the next: every @cache
    function of bootstrap is either reset or deliberately kept."""
    from chalicelib import bootstrap

    cached = {name for name, value in vars(bootstrap).items() if callable(getattr(value, "cache_clear", None))}
    named = {f.__name__ for f in (*bootstrap._BUILDERS, *bootstrap.KEPT_ACROSS_RESET)}
    assert cached == named


def test_the_lambda_import_path_never_reaches_the_local_stack_or_moto():
    """chalicelib/local ships in the zip but only `make run` and the tests import it; moto (and the patch of it
    in chalicelib/local/moto_dynamodb.py) is a development dependency the Lambda package does not have."""
    lambda_sources = [ROOT / "app.py", *(p for p in (ROOT / "chalicelib").rglob("*.py")
                                         if "local" not in p.relative_to(ROOT / "chalicelib").parts[:1])]
    for path in lambda_sources:
        bad = {m for m in imported_modules(path) if m.startswith(("chalicelib.local", "moto"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
