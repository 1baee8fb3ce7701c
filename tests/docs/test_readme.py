"""The README tells the truth: its tables match the code, its commands match CI."""

from __future__ import annotations

import re

from stamp_engine import cli

from tests.helpers.paths import REPO as ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_inspect_json_key_table_is_the_one_the_cli_documents():
    assert cli.INSPECT_JSON_KEYS.strip() in README


def test_every_environment_variable_the_code_reads_is_documented():
    sources = [ROOT / "dashboard", ROOT / "stamp_engine"]
    read = set()
    for folder in sources:
        for path in folder.rglob("*.py"):
            read |= set(re.findall(r"\b(STAMP_[A-Z][A-Z0-9_]+)\b", path.read_text(encoding="utf-8")))
    read = {name for name in read if not name.endswith("_")}  # prefixes in messages ("STAMP_ZIP_MAX_*")
    test_only = {name for name in read if name.startswith("STAMP_TEST_")}
    missing = sorted(read - test_only - set(re.findall(r"\b(STAMP_[A-Z0-9_]+)\b", README)))
    assert not missing, f"environment variables read by the code but not in the README: {missing}"


def test_ci_runs_the_test_command_the_readme_shows():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash .ci/run" in README
    assert "python -m pytest" in README
    assert re.search(r"^python -m pytest\b", ci, re.MULTILINE)


#: The README's first command: a venv first (PEP 668), python3 (a stock Debian has no `python`).
SETUP = "python3 -m venv .venv && . .venv/bin/activate"


def test_the_first_command_makes_a_venv_and_ci_runs_that_very_line():
    first_block = re.search(r"```bash\n(.*?)```", README, re.DOTALL).group(1).splitlines()
    assert first_block == [SETUP, "pip install -e . && stamp serve"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(rf"^{re.escape(SETUP)}$", ci, re.MULTILINE)
    assert not re.search(r"^\s*python\s+-m\s+pip\b", ci.split(SETUP)[0], re.MULTILINE), \
        ".ci/run must not pip-install before making the venv"


def test_basic_auth_examples_are_single_quoted():
    assignments = re.findall(r"STAMP_BASIC_AUTH=(\S)", README)
    assert assignments and set(assignments) == {"'"}, assignments


def test_the_start_command_names_a_real_console_script():
    assert "pip install -e . && stamp serve" in README
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'stamp = "stamp_engine.cli:main"' in pyproject
    assert callable(cli.main)


def test_the_upload_limit_default_in_the_readme_is_the_codes():
    from dashboard.server.config import DEFAULT_MAX_UPLOAD_MB, Config

    row = next(line for line in README.splitlines() if line.startswith("| `STAMP_MAX_UPLOAD_MB`"))
    assert f"`{DEFAULT_MAX_UPLOAD_MB}`" in row and Config().max_upload_mb == DEFAULT_MAX_UPLOAD_MB
    assert f"`STAMP_MAX_UPLOAD_MB` ({DEFAULT_MAX_UPLOAD_MB})" in README  # the limits table
def test_the_configuration_table_shows_each_numeric_default_the_code_uses():
    code = (ROOT / "dashboard" / "server" / "config.py").read_text(encoding="utf-8")
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `STAMP_")]
    defaults = re.findall(r'_number\(env, "(STAMP_[A-Z0-9_]+)", ([^,]+),', code)
    assert len(defaults) >= 15
    for name, default in defaults:
        row = [r for r in rows if f"`{name}`" in r.split("|")[1]]
        assert row, f"{name} has no row in the README's configuration table"
        if default == "None":
            continue
        if default.isidentifier():  # a named constant of dashboard.server.config
            import dashboard.server.config

            default = str(getattr(dashboard.server.config, default))
        shown = default[:-2] if default.endswith(".0") else default
        assert f"`{shown}`" in row[0].split("|")[-2], f"{name}: the README's default is not {shown}: {row[0]}"
