"""The parsers are pure: importing and running them loads no AWS or web framework code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_formats_import_no_cloud_libraries():
    script = (
        "import sys\n"
        "from chalicelib.formats import parse_file\n"
        "import io\n"
        "list(parse_file(io.BytesIO(open('examples/peppol-base-example.xml','rb').read()), 'x.xml').items)\n"
        "list(parse_file(open('examples/xero-export.csv','rb'), 'x.csv').items)\n"
        "banned = ('boto3', 'botocore', 'pynamodb', 'chalice', 'aws_lambda_powertools')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
