"""Untrusted inputs (issues 9 and 13): floods of entries, folders of several observations.

Every hostile file is generated here, tiny.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dashboard.features.job import problems_alert
from stamp_engine import cli, load
from stamp_engine.io.containers import ArchiveLimits
from stamp_engine.problem_summary import group_problems, summary_lines
from stamp_engine.problems import NoUsableData, Problem
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3
from stamp_engine.synthetic.x1dints import write_segments

REAL = Path(__file__).parent / "data" / "real"
MIRI = REAL / "jwst_x1dints" / "jw02783-o002_t001_miri_p750l-slitlessprism_x1dints.fits"


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ 9.3 entry flood
@pytest.fixture(scope="module")
def flood_zip(tmp_path_factory) -> Path:
    """Exactly STAMP_ZIP_MAX_FILES (default 5,000) empty ``.fits`` entries: the limit lets it through."""
    path = tmp_path_factory.mktemp("flood") / "flood.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for k in range(ArchiveLimits().max_files):
            archive.writestr(f"junk/{k:04d}_x1dints.fits", b"")
    return path


def test_an_entry_flood_is_a_few_grouped_lines_on_stderr_and_every_problem_in_json(capsys, flood_zip, monkeypatch):
    monkeypatch.delenv("STAMP_ZIP_MAX_FILES", raising=False)
    code, out, err = run(capsys, "inspect", str(flood_zip))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2, lines[:5]  # was 5,001 lines: one per entry plus the verdict
    assert lines[0].startswith("stamp: error: 5,000 files (e.g. flood.zip/junk/0000_x1dints.fits, ")
    assert "and 4,997 more): is empty (0 bytes)" in lines[0]
    code, out, err = run(capsys, "inspect", "--json", str(flood_zip))
    report = json.loads(out)
    assert code == 2 and len(report["problems"]) == 5000 and len(report["files"]) == 5000
    assert len(err.strip().splitlines()) == 2


def test_text_report_lists_a_flood_of_unreadable_files_as_one_entry(capsys, flood_zip, tmp_path):
    shutil.copy(flood_zip, tmp_path / "flood.zip")
    code, out, err = run(capsys, "inspect", str(tmp_path / "flood.zip"), str(MIRI))
    assert code == 0
    assert out.count("not readable") == 1 and "5,000 files (e.g. flood.zip/junk/0000_x1dints.fits" in out
    assert len(out.splitlines()) < 60 and len(err.splitlines()) == 1


def test_problem_groups_cap_the_kinds_and_keep_errors_first():
    problems = [Problem(f"f{k}.fits", f"note {k}", "warning") for k in range(40)]
    problems += [Problem(f"e{k}.fits", "is empty (0 bytes)") for k in range(7)]
    groups = group_problems(problems)
    assert len(groups) == 41 and groups[-1].count == 7 and groups[-1].sources[0] == "e0.fits"
    lines = summary_lines(problems, max_groups=5)
    assert len(lines) == 6
    assert lines[0] == ("error", "7 files (e.g. e0.fits, e1.fits, e2.fits and 4 more): is empty (0 bytes)")
    assert lines[-1] == ("warning", "36 files (e.g. f4.fits, f5.fits, f6.fits and 33 more): "
                                    "… and 36 more problem(s) of 36 other kind(s), not shown")


def test_dashboard_alert_groups_repeated_problems():
    problems = [{"source": f"up.zip/{k}.fits", "message": "is empty (0 bytes)", "severity": "error"}
                for k in range(5000)]
    alert = problems_alert(problems, loaded=False)
    items = alert.children[1].children
    assert len(items) == 1  # was 5,000 list items
    text = json.dumps(alert.to_plotly_json(), default=str)
    assert "5,000 files (e.g. up.zip/0.fits" in text and "5,000 file(s) could not be used" in text


# ------------------------------------------------------------------ 9.5 several observations
def _x1dints(folder: Path, target: str, start: float, *, program: str, observation: str, n: int, seed: int):
    obs = make_observation(kind="transit", n_integrations=n, wavelength=np.linspace(1.0, 3.0, 12), seed=seed,
                           t_start_bjd_mjd=start, meta={"target": target, "program": program,
                                                        "observation": observation})
    return write_segments(folder, obs, n_segments=1)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    """The real MIRI file, a Eureka! file and two synthetic observations 100 days apart of one target."""
    root = tmp_path_factory.mktemp("mixed") / "downloads"
    root.mkdir()
    shutil.copy(MIRI, root / MIRI.name)
    write_eureka_s3(root / "S3_other_SpecData.h5", make_observation(n_integrations=15, seed=3,
                                                                    t_start_bjd_mjd=59000.0))
    _x1dints(root / "early", "HD 189733 b", 60200.25, program="01234", observation="001", n=40, seed=1)
    _x1dints(root / "late", "HD 189733 b", 60300.25, program="01234", observation="002", n=30, seed=2)
    return root


def test_inspect_of_a_mixed_folder_lists_every_file_and_observation_and_loads_the_largest(capsys, mixed_folder):
    code, out, err = run(capsys, "inspect", "--json", str(mixed_folder))
    report = json.loads(out)
    assert code == 0  # was 2 with "files": []
    sources = [f["source"] for f in report["files"]]
    assert len(sources) == 4 and f"downloads/{MIRI.name}" in sources
    by_id = {g["id"]: g for g in report["observations"]}
    assert len(by_id) == 4  # the two epochs 100 days apart are not merged
    largest = report["observations"][0]
    assert largest["used"] and largest["integrations"] == 40 and largest["target"] == "HD 189733 b"
    assert largest["id"] == "jw01234-o001" and "jw01234-o002" in by_id
    assert report["cube"]["integrations"] == 40 and report["cube"]["observation"] == "jw01234-o001"
    assert {f["observation"] for f in report["files"]} == set(by_id)
    assert [f["used"] for f in report["files"]].count(True) == 1
    warning = next(p for p in report["problems"] if p["source"] == "observations")
    assert "holds 4 observations; loaded jw01234-o001" in warning["message"] and "jw01234-o002" in warning["message"]
    assert "--observation" in warning["message"]


def test_observation_option_and_load_parameter_choose_another(capsys, mixed_folder):
    code, out, err = run(capsys, "inspect", "--json", "--observation", "jw02783-o002", str(mixed_folder))
    report = json.loads(out)
    assert code == 0 and report["cube"]["integrations"] == 10 and report["cube"]["target"] == "WASP-39"
    cube = load(mixed_folder, observation="jw01234-o002")
    assert cube.n_integrations == 30 and cube.meta["observation"] == "jw01234-o002"
    assert abs(cube.time[0].mjd - 60300.25) < 0.1
    assert load(mixed_folder, observation=2).meta["observation"] == cube.meta["observations"][1]["id"]
    with pytest.raises(NoUsableData) as caught:
        load(mixed_folder, observation="jw9")
    assert "observation 'jw9' is not in the data (found: jw01234-o001, " in str(caught.value)
    assert len(caught.value.files) == 4


def test_two_targets_at_one_time_are_two_observations(tmp_path):
    _x1dints(tmp_path, "WASP-39", 60200.25, program="01366", observation="001", n=20, seed=1)
    _x1dints(tmp_path, "WASP-107", 60200.30, program="01366", observation="002", n=25, seed=2)
    cube = load(tmp_path)
    assert cube.n_integrations == 25 and cube.meta["target"] == "WASP-107"
    assert [g["target"] for g in cube.meta["observations"]] == ["WASP-107", "WASP-39"]
    assert any(p.source == "observations" and "WASP-39" in p.message for p in cube.problems)


def test_visits_of_one_observation_days_apart_still_stack(tmp_path):
    obs = make_observation(kind="transit", n_integrations=40, n_visits=2, visit_gap_hours=60.0,
                           wavelength=np.linspace(1.0, 3.0, 12), seed=5)
    write_segments(tmp_path, obs, n_segments=1)  # one observation number per visit
    cube = load(tmp_path)
    assert cube.n_integrations == 40 and cube.n_visits == 2 and len(cube.meta["observations"]) == 1
    assert not any(p.source == "observations" for p in cube.problems)
