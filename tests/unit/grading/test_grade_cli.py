"""`servelab grade all LAB LAB ...`: several labs in one run, --from with a folder per lab."""

from __future__ import annotations

from servelab.cli.main import main


def test_several_labs_need_a_folder_each_and_say_so(tmp_path, capsys):
    (tmp_path / "00_inference_path").mkdir()
    rc = main(["grade", "all", "00_inference_path", "01_managed_api", "--from", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"01_managed_api: no folder {tmp_path / '01_managed_api'}" in err
    assert "one folder per lab" in err


def test_autograde_and_all_take_one_lab_or_several():
    from argparse import ArgumentParser

    from servelab.cli import grade

    parser = ArgumentParser()
    grade.register(parser.add_subparsers())
    one = parser.parse_args(["grade", "autograde", "00_inference_path"])
    several = parser.parse_args(["grade", "all", "00_inference_path", "01_managed_api"])
    assert one.labs == ["00_inference_path"]
    assert several.labs == ["00_inference_path", "01_managed_api"]
