"""`chalice package` and every Lambda cold start import app.py: that import must not build an AWS client,
read credentials or touch the network (STACK.md). Checked in a fresh interpreter with no AWS settings
but a region, where building a client or opening a socket raises."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.packaging.conftest import REGION, ROOT

_PROBE = textwrap.dedent(
    """
    import socket
    import sys

    import boto3.session
    import botocore.session

    def forbidden(what):
        def fail(*args, **kwargs):
            raise RuntimeError(f"{what} during import of app.py: {args[1:2]}")
        return fail

    botocore.session.Session.create_client = forbidden("AWS client created")
    boto3.session.Session.client = forbidden("boto3 client created")
    boto3.session.Session.resource = forbidden("boto3 resource created")
    socket.socket.connect = forbidden("network connection")
    socket.create_connection = forbidden("network connection")
    socket.getaddrinfo = forbidden("DNS lookup")

    sys.path.insert(0, sys.argv[1])
    import app

    assert app.app.app_name == "dunwell", app.app.app_name
    print("imported", len(sys.modules), "modules")
    """
)


def test_app_imports_without_aws_clients_credentials_or_network(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),  # no ~/.aws
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _PROBE, str(ROOT)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, f"import app failed:\n{result.stdout}\n{result.stderr}"


def test_app_import_leaves_the_aws_sdk_and_pynamodb_for_first_use(tmp_path: Path) -> None:
    """Every Lambda pays for app.py's imports on each cold start (DESIGN.md budget: at most 1.5x a bare
    `import boto3`); the SDK, PynamoDB, parsers and templates load when a handler first needs them."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import app; "
        "heavy = sorted(m for m in ('boto3', 'botocore.client', 'pynamodb', 'jinja2', 'defusedxml', 'holidays', "
        "'babel', 'fpdf', 'segno', 'PIL', 'fontTools', 'pypdf', 'stripe', 'requests') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", probe, str(ROOT)], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_DEFAULT_REGION": REGION},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported at cold start: {result.stdout.strip()}"
