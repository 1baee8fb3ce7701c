"""The README tells the truth: its examples run, its commands parse, its tables match the code,
its layout section matches the tree, and its commands match CI."""

from __future__ import annotations

import ast
import builtins
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from stamp_engine import cli
from tests.helpers.paths import REPO as ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(*languages: str, text: str = README) -> list[tuple[int, str, str]]:
    """``(first line, language, code)`` of every fenced block in ``languages``, in README order."""
    blocks = []
    for match in re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", text, re.MULTILINE | re.DOTALL):
        if match.group(2) in languages:
            indent = len(match.group(1))
            code = "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))
            blocks.append((text.count("\n", 0, match.start(3)) + 1, match.group(2), code))
    return blocks


def section(heading: str) -> str:
    """The README's text under ``heading`` (a whole heading line), up to the next heading."""
    text = README.split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n#+ ", text, maxsplit=1)[0]


# ======================================================================= the Python examples
def _claimed_value(comment: str):
    """What a ``# …`` comment after an expression says it evaluates to, or None if it says no value.

    ``('bin', {'time': 4})`` is that value; a dict ending in ``…`` lists some of the items; a
    ``<Name …>`` comment is the start of the value's repr.
    """
    text = comment.strip()
    if text.startswith("<") and text.endswith(">"):
        return ("repr", text[1:].split(":", 1)[0].split()[0])
    partial = text.endswith("…}")
    try:
        value = ast.literal_eval(re.sub(r",\s*…}$", "}", text) if partial else text)
    except (ValueError, SyntaxError):
        return None
    return ("subset" if partial else "equal", value)


def _check_claim(value, claim, where: str) -> None:
    kind, expected = claim
    if kind == "repr":
        assert repr(value).startswith(f"<{expected} "), f"{where}: {repr(value)[:80]} is not a <{expected} …>"
    elif kind == "subset":
        missing = {k: v for k, v in expected.items() if value.get(k) != v}
        assert not missing, f"{where}: the README shows {missing}, the code gives {dict(value)}"
    else:
        assert value == expected, f"{where}: the README shows {expected!r}, the code gives {value!r}"


def _resolve_placeholders(tree: ast.AST, folder: Path) -> None:
    """A string literal with ``…`` in it names a file the user has (``"stamp_cube_….fits"``): the one
    file of ``folder`` matching it with ``…`` as a wildcard."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "…" in node.value \
                and "/" not in node.value and " " not in node.value:
            found = sorted(folder.glob(node.value.replace("…", "*")))
            assert len(found) == 1, f"README {node.lineno}: {node.value!r} matches {found} in the example folder"
            node.value = found[0].name


def run_as_notebook(blocks: list[tuple[int, str, str]], folder: Path, namespace: dict,
                    text: str = README) -> list[str]:
    """Run each top-level statement of ``blocks`` in one namespace, as notebook cells, in ``folder``.

    Tracebacks point at README lines. A statement whose line comment claims a value (see
    :func:`_claimed_value`) must give it; one whose comment says ``pip install X`` may instead raise
    the ImportError that names that command (X is an optional extra). Returns those ImportErrors.
    """
    optional = []
    for first_line, _, code in blocks:
        tree = ast.parse(code)
        ast.increment_lineno(tree, first_line - 1)
        _resolve_placeholders(tree, folder)
        lines = text.splitlines()
        for statement in tree.body:
            where = f"README.md line {statement.lineno}"
            comment = lines[statement.end_lineno - 1].partition("  # ")[2]
            claim = _claimed_value(comment) if isinstance(statement, ast.Expr) else None
            try:
                if claim is None:
                    exec(compile(ast.Module([statement], []), "README.md", "exec"), namespace)
                else:
                    value = eval(compile(ast.Expression(statement.value), "README.md", "eval"), namespace)
                    _check_claim(value, claim, where)
            except ImportError as exc:
                install = re.search(r"pip install [\w'\[\].-]+", comment)
                if install is None:
                    raise
                assert install.group(0).replace("'", "") in str(exc).replace("'", ""), f"{where}: {exc}"
                optional.append(f"{where}: {exc}")
    return optional


def _free_names(code: str) -> set[str]:
    """Names a block uses without binding them itself (builtins aside)."""
    tree = ast.parse(code)
    bound = {alias.asname or alias.name.split(".")[0]
             for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    bound |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return used - bound - set(dir(builtins))


def notebooks(text: str = README) -> dict[str, list[tuple[int, str, str]]]:
    """The README's Python blocks as notebooks, named by the heading of their first block: a block
    that uses names it does not define continues the notebook before it."""
    found: dict[str, list] = {}
    headings = [(m.start(), m.group(0)) for m in re.finditer(r"^#+ .*$", text, re.MULTILINE)]
    for block in code_blocks("python", text=text):
        if found and _free_names(block[2]):
            found[next(reversed(found))].append(block)
            continue
        offset = len("\n".join(text.splitlines()[:block[0] - 1]))
        found[[h for at, h in headings if at < offset][-1]] = [block]
    return found


@pytest.fixture
def notebook_folder(tmp_path: Path, monkeypatch) -> Path:
    """The folder the README's notebooks run in, with the files they name, made from the bundled demo."""
    from stamp_engine import load
    from stamp_engine.export import write_cube_fits
    from stamp_engine.synthetic.demo import DEMO_PATH

    downloads = tmp_path / "MAST_2025-11-02"  # stamp_engine.load("MAST_2025-11-02/")
    downloads.mkdir()
    shutil.copy(DEMO_PATH, downloads / DEMO_PATH.name)
    write_cube_fits(load(DEMO_PATH).normalize("median"), tmp_path / "stamp_cube_20261102_120000.fits")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _from_a_notebook(namespace: dict, folder: Path) -> None:
    assert namespace["h2o"].value.size == namespace["var"].n_integrations
    # ... and back from xarray exactly; the FITS cube's WCS gives wavelengths and times
    assert np.array_equal(namespace["same"].flux, namespace["var"].flux, equal_nan=True)
    assert namespace["wave"].unit == u.um and namespace["when"].scale == "tdb"


def _science_products(namespace: dict, folder: Path) -> None:
    # the injected transit and rotation come back; the tables are written
    spectrum, lomb, residuals = namespace["spectrum"], namespace["lomb"], namespace["residuals"]
    assert spectrum.n_channels > 10 and np.all(np.isfinite(spectrum.depth))
    assert (folder / "transmission.ecsv").exists() and (folder / "amplitude.ecsv").exists()
    assert abs(lomb.peak_period.to_value(u.hour) - 2.4) < 0.01
    assert residuals.unit == u.percent and "baseline 0–2.9 h, 7.1–9.9 h" in residuals.description


#: What each notebook must have computed, beyond running and giving what its comments say.
NOTEBOOK_RESULTS = {"## From a notebook": _from_a_notebook, "### Science products": _science_products}


def test_the_readme_has_the_notebooks_this_file_checks():
    assert list(notebooks()) == list(NOTEBOOK_RESULTS)
    assert len(notebooks()["## From a notebook"]) == 2  # "In the rest of your analysis" goes on with `var`


@pytest.mark.parametrize("heading", list(NOTEBOOK_RESULTS))
def test_each_python_notebook_runs_and_gives_what_its_comments_say(heading, notebook_folder, monkeypatch):
    import plotly.graph_objects as go

    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda figure, *a, **k: shown.append(figure))
    namespace: dict = {"__name__": "__readme__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's notes on barycentric times and WCS, not the README's
        optional = run_as_notebook(notebooks()[heading], notebook_folder, namespace)
    assert all("to_rainbow" in line for line in optional), optional  # only chromatic is optional here
    assert all(len(figure.data) > 0 for figure in shown)
    NOTEBOOK_RESULTS[heading](namespace, notebook_folder)


def test_a_comment_claiming_a_value_the_code_does_not_give_fails(tmp_path):
    """The notebook runner really compares: a README line claiming a wrong value is caught."""
    text = "```python\nx = {'a': 1, 'b': 2}\nx                  # {'a': 1, 'b': 3, …}\n```\n"
    with pytest.raises(AssertionError, match=r"README shows \{'b': 3\}"):
        run_as_notebook(code_blocks("python", text=text), tmp_path, {}, text=text)


# ====================================================================== the shell examples
#: A value for each placeholder of the command synopses (``stamp inspect PATH... [--order N]``).
PLACEHOLDERS = {"PATH...": "MAST_2025-11-02/", "OUTDIR": "package", "N": "2", "ID": "jw02783-o002",
                "H": "0.5", "P": "8050"}


def readme_commands(program: str) -> list[tuple[int, list[str]]]:
    """Every ``program …`` command line of the README's bash and text blocks, placeholders filled."""
    commands = []
    for first_line, _, code in code_blocks("bash", "text"):
        for number, line in enumerate(code.splitlines(), first_line):
            line = line.partition("  #")[0].strip().removeprefix("# or: ")
            if not line.startswith(f"{program} "):
                continue
            line = re.sub(r"\s{2,}.*$", "", line)  # a synopsis's right-hand column says what it does
            words = [w for w in shlex.split(line.replace("[", " ").replace("]", " ")) if w != "options"]
            commands.append((number, [PLACEHOLDERS.get(word, word) for word in words[1:]]))
    return commands


def test_every_stamp_command_in_the_readme_is_one_the_cli_accepts(stamp_commands):
    commands = readme_commands("stamp")
    shown = {argv[0] for _, argv in commands}
    parser = cli.build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert shown == set(subcommands), f"the README shows {sorted(shown)}, the CLI has {sorted(subcommands)}"
    for number, argv in commands:
        try:
            args = cli.parse_command_line(cli.build_parser(argv), argv)
        except SystemExit:
            pytest.fail(f"README.md line {number}: stamp {shlex.join(argv)} is refused by the CLI")
        assert args.command == argv[0]
        if "--port" in argv:
            assert args.port == int(argv[argv.index("--port") + 1])


def test_the_wsgi_and_celery_targets_of_the_deploy_commands_exist(tmp_path):
    targets = set(re.findall(r"\b(?:gunicorn|celery -A) ([\w.]+:\w+)", README))
    assert {"dashboard.server.wsgi:server", "dashboard.server.wsgi:celery_app"} <= targets
    # the module makes its app from STAMP_* variables: in a child, with a private cache, the
    # Celery one as the README's scale-out commands set them (no broker is contacted to build it)
    probe = "; ".join(
        f"import importlib; assert getattr(importlib.import_module({t.split(':')[0]!r}), {t.split(':')[1]!r}) is not None"
        for t in sorted(targets))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STAMP_CACHE_DIR": str(tmp_path / "cache"), "STAMP_DEMO": "none",
           "STAMP_BACKGROUND": "celery", "STAMP_REDIS_URL": "redis://127.0.0.1:9/0"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_python_m_module_the_readme_names_exists():
    modules = set(re.findall(r"python3? -m ([\w.]+)", README)) - {"venv", "pip", "pytest"}
    assert {"benchmarks", "dashboard.server.security", "stamp_engine.synthetic.demo"} <= modules
    missing = sorted(name for name in modules if importlib.util.find_spec(name) is None)
    assert not missing, f"the README runs modules that do not exist: {missing}"


def test_the_extras_the_readme_installs_are_in_pyproject():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"])
    named = {name for group in re.findall(r"""pip install [^\n`]*?\.\[([\w,]+)\]""", README) for name in group.split(",")}
    named |= set(re.findall(r"'stamp\[(\w+)\]'", README))
    assert named and not named - extras, f"extras named in the README but not in pyproject.toml: {sorted(named - extras)}"


def test_the_start_command_names_a_real_console_script():
    assert "pip install -e . && stamp serve" in README
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module, _, function = scripts["stamp"].partition(":")
    assert getattr(importlib.import_module(module), function) is cli.main


# ======================================================================== the layout section
LAYOUT_ROOTS = ("stamp_engine", "dashboard")  # every module of these is named in the layout


def layout_entries() -> list[tuple[Path, str]]:
    """``(path or glob, what the layout says of it)`` for each name of the layout block.

    A line indented by 0 names a top-level folder, by 2 a path inside the last one; a line
    indented further continues the text of the line above; ``a.py, b.py`` names two paths.
    """
    block = re.search(r"```text\n(.*?)```", section("## Layout of the code"), re.DOTALL).group(1)
    entries: list[list] = []
    top = Path()
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        if indent > 2:
            entries[-1][1] += " " + line.strip()
            continue
        names, text = re.fullmatch(r"([\w.*/-]+(?:, [\w.*/-]+)*)\s*(.*)", line.strip()).groups()
        if indent == 0:
            top = Path(names.rstrip("/"))
        for name in names.split(", "):
            path = top if indent == 0 else top / name.strip().rstrip("/")
            entries.append([path, text.strip()])
    return [(path, text) for path, text in entries]


def _matches(pattern: Path) -> list[Path]:
    return sorted(ROOT.glob(str(pattern))) if "*" in str(pattern) else [ROOT / pattern] * (ROOT / pattern).exists()


def _mentions(text: str, name: str) -> bool:
    words = re.sub(r"[_/]", " ", text.lower())
    return re.search(rf"(?<![\w.]){re.escape(name.lower().replace('_', ' '))}(?![\w])", words) is not None


def _modules_and_folders(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        if path.is_dir() or (path.suffix == ".py" and not path.name.startswith("_")):
            found.append(path)
    return found


def test_the_layout_names_only_paths_that_exist():
    entries = layout_entries()
    assert len(entries) > 30
    gone = [str(path) for path, _ in entries if not _matches(path)]
    assert not gone, f"the README's layout names what is not in the tree: {gone}"


def test_the_layout_lists_every_top_level_folder_and_every_module_of_the_packages():
    entries = layout_entries()
    listed = {path for path, _ in entries if "*" not in str(path)}
    top_level = {Path(p.name) for p in ROOT.iterdir()
                 if p.is_dir() and not p.name.startswith((".", "_")) and not p.name.endswith(".egg-info")
                 and p.name not in {"build", "dist"}}
    assert top_level - listed == set(), f"top-level folders not in the README's layout: {sorted(map(str, top_level - listed))}"
    unlisted = []
    for root in LAYOUT_ROOTS:
        for path in _modules_and_folders(ROOT / root):
            relative = path.relative_to(ROOT)
            if relative in listed:
                continue
            if path.is_dir():  # a folder is listed through the paths inside it (io/registry.py lists io/)
                if not any(relative in entry.parents for entry, _ in entries):
                    unlisted.append(f"{relative}/")
                continue
            # a module inside a folder listed as a whole (export/, steps/*.py) is named in that line's text
            folder_lines = [text for entry, text in entries
                            if entry == relative.parent or (entry.parent == relative.parent and "*" in entry.name)]
            if not any(_mentions(text, path.stem) for text in folder_lines):
                unlisted.append(str(relative))
    assert not unlisted, f"in the tree but not in the README's layout section: {unlisted}"


def test_the_layout_names_every_test_folder():
    text = " ".join(t for path, t in layout_entries() if path == Path("tests"))
    folders = sorted(p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__")
    for sub in (ROOT / "tests" / "engine", ROOT / "tests" / "dashboard"):
        folders += [p.name for p in sub.iterdir() if p.is_dir() and p.name != "__pycache__"]
    missing = [name for name in folders if not _mentions(text, name)]
    assert not missing, f"test folders the README's layout does not name: {missing}"


def test_the_layout_check_catches_a_module_the_readme_does_not_name(tmp_path, monkeypatch):
    """The layout rule really looks at the tree: a new engine module fails it until the README names it."""
    copy = tmp_path / "checkout"
    for name in (*LAYOUT_ROOTS, "assets", "benchmarks", "tests"):
        (copy / name).mkdir(parents=True)
    for root in LAYOUT_ROOTS:
        shutil.copytree(ROOT / root, copy / root, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.h5", "*.js", "*.css"))
    (copy / "stamp_engine" / "steps" / "detrend.py").write_text("", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", copy)
    with pytest.raises(AssertionError, match=r"stamp_engine/steps/detrend\.py"):
        test_the_layout_lists_every_top_level_folder_and_every_module_of_the_packages()


# ============================================================================ tables and CI
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
    assert re.search(r"^python -m pytest$", ci, re.MULTILINE)  # the whole suite: testpaths, no selection
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]["testpaths"]
    assert testpaths == ["tests"]


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


def test_the_upload_limit_default_in_the_readme_is_the_codes():
    from dashboard.server.config import DEFAULT_MAX_UPLOAD_MB, Config

    row = next(line for line in README.splitlines() if line.startswith("| `STAMP_MAX_UPLOAD_MB`"))
    assert f"`{DEFAULT_MAX_UPLOAD_MB}`" in row and Config().max_upload_mb == DEFAULT_MAX_UPLOAD_MB
    assert f"`STAMP_MAX_UPLOAD_MB` ({DEFAULT_MAX_UPLOAD_MB})" in README  # the limits table


def test_the_configuration_table_shows_each_numeric_default_the_code_uses():
    code = (ROOT / "dashboard" / "server" / "config.py").read_text(encoding="utf-8")
    rows = [line for line in section("## Configuration").splitlines() if line.startswith("| `STAMP_")]
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
