"""Write .ci/constraints.txt: the exact versions CI installs, taken from this environment.

Refresh (in an environment where the suite is green, e.g. CI's .venv after upgrading):

    python3 .ci/constraints.py

It walks the requirements of STAMP (pyproject.toml: dependencies and the extras CI
installs) through the installed packages' metadata and pins every package of that
closure to the version installed here.  A required package that is not installed is
an error naming it (install the extras first).
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare venv: pip's vendored copy is the same library
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".ci" / "constraints.txt"
#: The extras .ci/run installs (test run and wheel smoke test).
EXTRAS = ("test", "interop", "chromatic", "bench", "server", "celery")
BUILD_TOOLS = ("pip", "setuptools", "wheel")


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """``{canonical name: installed version}`` of ``requirements`` and everything they need."""
    pinned: dict[str, str] = {}
    missing: list[str] = []
    todo = [(req, frozenset()) for req in requirements]
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        req, parent_extras = todo.pop()
        env = [{"extra": extra} for extra in (parent_extras or {""})]
        if req.marker is not None and not any(req.marker.evaluate(e) for e in env):
            continue
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            missing.append(str(req))
            continue
        pinned[name] = dist.version
        for text in dist.requires or ():
            todo.append((Requirement(text), frozenset(req.extras)))
    if missing:
        raise SystemExit("not installed here (install STAMP's extras first): " + ", ".join(sorted(set(missing))))
    return pinned


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    for extra in EXTRAS:
        requirements += [Requirement(text) for text in project["optional-dependencies"][extra]]
    pinned = closure(requirements)
    pinned.pop(canonicalize_name(project["name"]), None)
    # Build tools stay out: a pin here would clash with pyproject's build requirement
    # (setuptools>=68) wherever pip applies constraints to build environments too.
    for tool in BUILD_TOOLS:
        pinned.pop(tool, None)
    lines = [
        "# Exact versions CI installs (pip install -c .ci/constraints.txt …), pinned from a green environment.",
        f"# Python {sys.version_info.major}.{sys.version_info.minor}. Refresh: python3 .ci/constraints.py",
        *(f"{name}=={version}" for name, version in sorted(pinned.items())),
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(pinned)} packages pinned", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
