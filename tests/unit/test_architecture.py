"""The dependency rule: the domain and the parsers are pure; only adapters speak AWS; adapters know the domain and
the ports, never the use cases; routes reach adapters only through bootstrap."""

import ast
import inspect
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AWS_OR_FRAMEWORK = ("boto3", "botocore", "pynamodb", "chalice", "aws_lambda_powertools", "moto")
# What the domain may import besides the standard library and itself: the public holiday calendars.
DOMAIN_THIRD_PARTY = frozenset({"holidays"})
# Besides the domain, the ports and each other: the settings they are configured from, the logger, and the
# mapping-file parser the S3 mapping loader hands its files to.
ADAPTERS_MAY_IMPORT = ("chalicelib.adapters", "chalicelib.domain", "chalicelib.services.ports", "chalicelib.config",
                       "chalicelib.observability", "chalicelib.formats")


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


def test_domain_imports_only_the_standard_library_and_its_allowance():
    for path in (ROOT / "chalicelib" / "domain").rglob("*.py"):
        outside = {m for m in imported_modules(path) if not m.startswith("chalicelib.domain")}
        bad = {m for m in outside if m.split(".")[0] not in sys.stdlib_module_names | DOMAIN_THIRD_PARTY}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_adapters_import_only_the_domain_and_the_ports():
    for path in (ROOT / "chalicelib" / "adapters").rglob("*.py"):
        inner = {m for m in imported_modules(path) if m.startswith("chalicelib.")}
        bad = {m for m in inner if not m.startswith(ADAPTERS_MAY_IMPORT)}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_routes_do_not_import_adapters():
    for path in [ROOT / "app.py", *(ROOT / "chalicelib" / "api").rglob("*.py")]:
        bad = {m for m in imported_modules(path) if m.startswith("chalicelib.adapters")}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_reset_forgets_everything_built():
    """Everything built lives in the one Container that reset() drops; a module-level cache would keep one
    test's adapters (and settings) for the next, so the only one is kept deliberately."""
    from chalicelib import bootstrap

    cached = {name for name, value in vars(bootstrap).items() if callable(getattr(value, "cache_clear", None))}
    assert cached == {f.__name__ for f in bootstrap.KEPT_ACROSS_RESET}
    before = bootstrap.container()
    bootstrap.reset()
    assert bootstrap.container() is not before


def _builders() -> dict[str, object]:
    from chalicelib import bootstrap

    found: dict[str, object] = {name: value for name, value in vars(bootstrap).items()
                                if inspect.isfunction(value) and value.__module__ == bootstrap.__name__
                                and not name.startswith("_")}
    for name, value in vars(bootstrap.Container).items():
        getter = value.func if hasattr(value, "func") else value.fget if isinstance(value, property) else value
        if inspect.isfunction(getter) and not name.startswith("_"):
            found[f"Container.{name}"] = getter
    return found


def test_no_builder_returns_any():
    """mypy checks the wiring only as far as the builders are typed (mypy --strict sees that each is annotated):
    each one names what it returns."""
    returns = {name: str(builder.__annotations__.get("return")) for name, builder in _builders().items()}
    untyped = {name: r for name, r in returns.items() if "Any" in re.findall(r"\w+", r)}
    assert not untyped


def test_every_builder_of_the_api_is_the_containers():
    """The module-level builders the API calls are the container's, under the same names: an override handed to
    the container is what the API uses."""
    from chalicelib import bootstrap

    delegating = {name for name in _builders() if "." not in name and hasattr(bootstrap.Container, name)}
    assert {"ledger", "tasks", "plan_service", "dunning_service", "sender", "api_keys"} <= delegating
    stand_alone = {name for name in _builders() if "." not in name} - delegating
    assert stand_alone == {"bind_tables", "container", "use", "reset", "cursor_signing_secret", "decode_work",
                           "decode_stream_records", "decode_invoice_records"}


def test_the_lambda_import_path_never_reaches_the_local_stack_or_moto():
    """chalicelib/local ships in the zip but only `make run` and the tests import it; moto (and the patch of it
    in chalicelib/local/moto_dynamodb.py) is a development dependency the Lambda package does not have."""
    lambda_sources = [ROOT / "app.py", *(p for p in (ROOT / "chalicelib").rglob("*.py")
                                         if "local" not in p.relative_to(ROOT / "chalicelib").parts[:1])]
    for path in lambda_sources:
        bad = {m for m in imported_modules(path) if m.startswith(("chalicelib.local", "moto"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
