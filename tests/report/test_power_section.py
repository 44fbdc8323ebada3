"""The report's power section draws the curves of a power table written by `alliance-stats power`."""
import allianceStats as als
from allianceStats.analysis import parse_analysis, run_analysis
from allianceStats.report import build_report


def test_power_section_from_a_study_table(tmp_path):
    res = als.power("regression", n_clients=[20, 40], effects={"slope": 0.5}, reps=20, seed=2, dask_client="sync",
                    progress=False)
    res.table.to_csv(tmp_path / "power_table.csv", index=False)
    spec = parse_analysis({"title": "P", "seed": 1, "data": {"path": "example"},
                           "power": {"table": "power_table.csv"}}, base_dir=tmp_path)
    report = build_report(run_analysis(spec))
    (section,) = report.sections
    assert section.status == "ok" and len(section.figures) == 1
    assert section.figures[0].svg.count('class="power-line"') == 1


def test_power_section_without_table_is_a_visible_failure(tmp_path):
    spec = parse_analysis({"title": "P", "seed": 1, "data": {"path": "example"},
                           "power": {"table": "missing.csv"}}, base_dir=tmp_path)
    (section,) = build_report(run_analysis(spec)).sections
    assert section.status == "failed" and "alliance-stats power" in section.note
