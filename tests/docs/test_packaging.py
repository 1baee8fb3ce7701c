"""What a wheel holds: every package and data file the engine and dashboard need, and
nothing in the engine reaching outside its package.  (.ci/wheel-smoke installs the built
wheel in a fresh venv and renders, serves and exports from it.)"""

from __future__ import annotations

import ast
import fnmatch
import re
import tomllib
from pathlib import Path

from stamp_engine import web

from tests.helpers.paths import REPO as ROOT

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def package_folder(package: str) -> Path:
    mapped = SETUPTOOLS.get("package-dir", {})
    return ROOT / mapped[package] if package in mapped else ROOT / package.replace(".", "/")


def test_every_package_folder_is_listed_for_the_wheel():
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("stamp_engine", "dashboard") for path in (ROOT / top).rglob("__init__.py")
    }
    missing = found - set(SETUPTOOLS["packages"])
    assert not missing, f"packages not in pyproject.toml [tool.setuptools] packages: {sorted(missing)}"
    for package in SETUPTOOLS["packages"]:
        assert package_folder(package).is_dir(), package


def test_every_data_file_is_package_data():
    patterns = SETUPTOOLS["package-data"]
    unshipped = []
    for package in SETUPTOOLS["packages"]:
        folder = package_folder(package)
        globs = patterns.get(package, [])
        for path in folder.iterdir():
            if path.is_file() and path.suffix not in (".py", ".pyc") and not any(
                fnmatch.fnmatch(path.name, g) for g in globs
            ):
                unshipped.append(str(path.relative_to(ROOT)))
        for sub in folder.iterdir():  # data folders such as stamp_engine/data/
            if sub.is_dir() and sub.name != "__pycache__" and not (sub / "__init__.py").exists():
                for path in sub.rglob("*"):
                    rel = str(path.relative_to(folder))
                    if path.is_file() and not any(fnmatch.fnmatch(rel, g) for g in globs):
                        unshipped.append(str(path.relative_to(ROOT)))
    assert not unshipped, f"files a wheel would leave out (add them to package-data): {unshipped}"


def _escapes_package(source: Path) -> list[str]:
    """``Path(__file__)`` climbs (``.parent`` chains, ``.parents[n]``) above the ``stamp_engine`` folder."""
    depth = len(source.relative_to(ROOT / "stamp_engine").parts)  # 1 for stamp_engine/x.py
    escapes = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents":
            if isinstance(node.slice, ast.Constant) and node.slice.value >= depth:
                escapes.append(f"{source.name}:{node.lineno} parents[{node.slice.value}]")
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            chain, inner = 1, node.value
            while isinstance(inner, ast.Attribute) and inner.attr == "parent":
                chain, inner = chain + 1, inner.value
            if chain > depth:
                escapes.append(f"{source.name}:{node.lineno} .parent × {chain}")
    return escapes


def test_the_engine_reads_nothing_outside_its_package():
    sources = list((ROOT / "stamp_engine").rglob("*.py"))
    escapes = [e for source in sources for e in _escapes_package(source)]
    assert not escapes, f"engine code reaching outside stamp_engine/: {escapes}"
    mentions = [str(s.relative_to(ROOT)) for s in sources
                if re.search(r"['\"]\.\./|['\"]assets['\"]", s.read_text(encoding="utf-8"))]
    assert not mentions, f"engine code naming the app's assets/: {mentions}"


def test_the_dashboard_serves_the_engines_band_script(tmp_path):
    from dashboard.app import assets_folder, create_app
    from dashboard.server.config import Config

    assert (assets_folder() / "stamp.css").is_file()
    for prefix in ("/", "/portal/stamp/"):
        client = create_app(Config(cache_dir=tmp_path / prefix.strip("/"), demo_path=None, url_prefix=prefix)) \
            .server.test_client()
        page = client.get(prefix).get_data(as_text=True)
        urls = re.findall(r'<script src="([^"]*stamp_bands\.js[^"]*)"', page)
        assert len(urls) == 1 and urls[0].startswith(prefix), urls
        served = client.get(urls[0])
        assert served.status_code == 200 and served.mimetype == "text/javascript"
        assert served.get_data(as_text=True) == web.bands_script()
        # before the app's own scripts, so stamp_dashboard.js finds stamp.highlight
        assert page.index("stamp_bands.js") < page.index("stamp_dashboard.js")


def test_the_ci_constraints_pin_every_requirement():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pinned = {re.split(r"==", line)[0] for line in lines if line and not line.startswith("#")}
    assert all("==" in line for line in lines if line and not line.startswith("#"))

    def name(requirement: str) -> str:
        return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0)).lower()

    wanted = {name(r) for r in project["dependencies"]}
    for extra in ("test", "interop", "chromatic", "bench", "server", "celery"):
        wanted |= {name(r) for r in project["optional-dependencies"][extra]}
    missing = sorted(wanted - pinned)
    assert not missing, f"not pinned in .ci/constraints.txt (refresh: python3 .ci/constraints.py): {missing}"
