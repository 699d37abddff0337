"""Locale fallback, the templates folder from any cwd and in the Lambda layout, purity, template parity."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.formats import messages
from chalicelib.formats.messages import (
    TONES,
    available_locales,
    canonical_tag,
    locale_chain,
    render_reminder_email,
    resolve_locale,
    templates_dir,
)
from tests.unit.messages.conftest import LOCALES, TODAY, line

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de-AT", "de"),
        ("de_at", "de"),
        ("DE-ch", "de"),
        ("fr-CA", "fr"),
        ("es-MX", "es"),
        ("en-GB", "en"),
        ("pt-BR", "en"),
        ("", "en"),
        (None, "en"),
        ("  fr  ", "fr"),
    ],
)
def test_resolve_locale_falls_back(tag, expected):
    assert resolve_locale(tag) == expected


def test_resolve_locale_prefers_the_most_specific_available():
    assert resolve_locale("de-AT", ["en", "de", "de-AT"]) == "de-AT"
    assert resolve_locale("de-AT", ["en", "de"]) == "de"
    assert resolve_locale("de-AT", ["en"]) == "en"
    assert locale_chain("zh-hant-tw") == ["zh-Hant-TW", "zh-Hant", "zh", "en"]
    assert canonical_tag("es_419") == "es-419"


def test_available_locales_are_the_shipped_folders():
    assert set(LOCALES) <= available_locales()


def test_de_at_customer_gets_german_wording_and_austrian_formatting(seller):
    email = render_reminder_email("firm", "de-AT", "X", [line()], seller, TODAY)
    assert email.locale == "de"
    assert '<html lang="de-AT">' in email.html
    assert "€\u00a01.234,50" in email.text and "nach unseren Unterlagen" in email.text
    unknown = render_reminder_email("firm", "xx-YY", "X", [line()], seller, TODAY)
    assert unknown.locale == "en" and "€1,234.50" in unknown.text


def test_templates_dir_is_the_repository_folder():
    assert templates_dir() == ROOT / "templates"
    assert (templates_dir() / "base.html.j2").is_file()


def _run(code: str, cwd: Path, pythonpath: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_templates_dir_found_from_another_cwd(tmp_path):
    out = _run("from chalicelib.formats.messages import templates_dir; print(templates_dir())", tmp_path, ROOT)
    assert Path(out) == ROOT / "templates"


def test_templates_dir_in_the_lambda_layout(tmp_path):
    # /var/task holds app.py, chalicelib/ and vendor/'s content (templates/ via the vendor symlink).
    task = tmp_path / "var" / "task"
    shutil.copytree(ROOT / "chalicelib", task / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "vendor" / "templates", task / "templates")
    code = (
        "from datetime import date; from decimal import Decimal\n"
        "from chalicelib.formats import messages as m\n"
        "line = m.InvoiceLine('R-1', date(2025,1,1), date(2025,2,1), 'EUR', Decimal('10'), Decimal('10'), 3)\n"
        "s = m.Seller('S', 's@x.example', None, None, None, ())\n"
        "print(m.templates_dir())\n"
        "print(m.render_reminder_email('firm', 'de', 'K', [line], s, date(2025,2,4)).subject)\n"
    )
    out = _run(code, Path("/"), task).splitlines()
    assert Path(out[0]) == task / "templates"
    assert out[1] == "Mahnung: Rechnung R-1"


def test_import_builds_nothing_and_rendering_loads_no_cloud_code():
    code = (
        "import sys\n"
        "import chalicelib.formats.messages as m\n"
        "print(sorted(x for x in ('jinja2', 'babel') if x in sys.modules))\n"
        "from datetime import date; from decimal import Decimal\n"
        "line = m.InvoiceLine('R-1', date(2025,1,1), date(2025,2,1), 'EUR', Decimal('10'), Decimal('10'), 3)\n"
        "s = m.Seller('S', 's@x.example', None, None, None, ())\n"
        "m.render_reminder_email('firm', 'de', 'K', [line], s, date(2025,2,4))\n"
        "m.render_reminder_sms('firm', 'de', 'K', [line], s, date(2025,2,4))\n"
        "banned = ('boto3', 'botocore', 'pynamodb', 'chalice', 'aws_lambda_powertools')\n"
        "print(sorted(x for x in sys.modules if x.split('.')[0] in banned))\n"
    )
    out = _run(code, ROOT, ROOT).splitlines()
    assert out == ["[]", "[]"]


def _module(locale: str):
    env = messages._environment(False)
    ctx = messages._context(
        "firm", messages.message_locale(locale), "X", [line()],
        messages.Seller("S", "s@x.example", None, None, None, ()), TODAY,
        contact_name=None, deadline=None, promise_date=None, payment_reference=None,
    )
    return env.get_template(f"{locale}/reminder.strings.j2").make_module(ctx)


def test_every_locale_defines_the_same_labels_and_macros():
    reference = _module("en")
    macros = {name for name in dir(reference) if not name.startswith("_")}
    assert {"greeting", "intro", "status", "discount", "next_steps", "contact", "labels"} <= macros
    for locale in LOCALES:
        module = _module(locale)
        assert {name for name in dir(module) if not name.startswith("_")} == macros, locale
        assert set(module.labels) - {"sep"} == set(reference.labels), locale
        assert set(module.charge_labels) == set(reference.charge_labels) == set(messages.CHARGE_CODES)


@pytest.mark.parametrize("locale", LOCALES)
def test_each_locale_ships_html_text_subject_and_sms(locale):
    for suffix in ("html.j2", "txt.j2", "subject.j2", "sms.j2", "strings.j2"):
        assert (templates_dir() / locale / f"reminder.{suffix}").is_file(), suffix


@pytest.mark.parametrize("tone", TONES)
def test_subjects_differ_per_tone(tone, seller):
    subjects = {t: render_reminder_email(t, "en", "X", [line()], seller, TODAY).subject for t in TONES}
    assert len(set(subjects.values())) == len(TONES)
