"""Settings: one TOML file, command-line overrides, and errors that say what to change."""
from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from voicecheck import settings as S
from voicecheck.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    """No test may read the developer's real ~/.config file."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(S.CONFIG_ENV, raising=False)
    monkeypatch.setenv("VOICECHECK_DATA_DIR", str(tmp_path / "data"))


def parser_with_subcommand() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py")
    S.add_arguments(parser)
    sub = parser.add_subparsers(dest="command")
    report = sub.add_parser("report")
    S.add_arguments(report)
    report.add_argument("session", nargs="?")
    return parser


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path):
    resolved = load_settings()
    assert resolved.settings == Settings()
    assert resolved.config_file is None
    assert resolved.settings.keep_audio is False
    assert resolved.settings.data_dir == tmp_path / "data"
    assert set(resolved.sources.values()) == {"default"}


def test_default_file_location_is_read(tmp_path):
    write(tmp_path / "xdg" / "voicecheck" / "settings.toml", 'speaking_rate = "slow"\nretries = 5\n')
    resolved = load_settings()
    assert resolved.settings.speaking_rate == "slow"
    assert resolved.settings.retries == 5
    assert resolved.config_file == tmp_path / "xdg" / "voicecheck" / "settings.toml"
    assert resolved.sources["retries"] == "file" and resolved.sources["engine"] == "default"


def test_env_variable_names_the_file_and_it_must_exist(tmp_path, monkeypatch):
    cfg = write(tmp_path / "elsewhere.toml", "volume = 0.5\n")
    monkeypatch.setenv(S.CONFIG_ENV, str(cfg))
    assert load_settings().settings.volume == 0.5
    monkeypatch.setenv(S.CONFIG_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="missing.toml.*config --init"):
        load_settings()


def test_every_kind_of_value_is_read_from_the_file(tmp_path):
    cfg = write(
        tmp_path / "s.toml",
        """
        language = "ja"
        microphone = 2
        speaker = "USB Audio"
        engine = "VOSK"
        voice = "pyttsx3"
        speaking_rate = "slow"
        volume = 1
        pause_s = 0.8
        no_answer_timeout_s = 30
        retries = 4
        data_dir = "answers"
        keep_audio = true
        models_dir = "~/models"
        """.replace("\n        ", "\n"),
    )
    s = load_settings(cfg).settings
    assert s.microphone == "2" and s.speaker == "USB Audio"
    assert s.engine == "vosk" and s.voice == "pyttsx3" and s.speaking_rate == "slow"
    assert s.volume == 1.0 and isinstance(s.volume, float)
    assert s.pause_s == 0.8 and s.no_answer_timeout_s == 30.0 and s.retries == 4
    assert s.data_dir == tmp_path / "answers"  # relative to the settings file
    assert s.models_dir == Path.home() / "models"
    assert s.keep_audio is True


def test_empty_or_default_device_means_system_default(tmp_path):
    cfg = write(tmp_path / "s.toml", 'microphone = ""\nspeaker = "default"\n')
    s = load_settings(cfg).settings
    assert s.microphone is None and s.speaker is None


@pytest.mark.parametrize(
    "line, name, value, allowed",
    [
        ('engine = "vosc"', "engine", '"vosc"', "auto, vosk, whisper"),
        ("volume = 1.5", "volume", "1.5", "0 から 1"),
        ("volume = true", "volume", "true", "0 から 1"),
        ("retries = 0", "retries", "0", "1 から 10 までの整数"),
        ("retries = 2.5", "retries", "2.5", "整数"),
        ('keep_audio = "yes please"', "keep_audio", '"yes please"', "true か false"),
        ("no_answer_timeout_s = 1", "no_answer_timeout_s", "1", "3 から 600"),
        ('speaking_rate = "fast"', "speaking_rate", '"fast"', "normal, slow"),
        ('language = "en"', "language", '"en"', "ja"),
        ("microphone = -1", "microphone", "-1", "番号"),
        ('data_dir = ""', "data_dir", '""', "フォルダ"),
    ],
)
def test_wrong_value_in_file_names_setting_value_and_what_is_allowed(tmp_path, line, name, value, allowed):
    cfg = write(tmp_path / "s.toml", line + "\n")
    with pytest.raises(SettingsError) as err:
        load_settings(cfg)
    message = str(err.value)
    assert f"設定 {name} の値 {value} は使えません" in message
    assert allowed in message
    assert str(cfg) in message


def test_close_spelling_is_suggested():
    with pytest.raises(SettingsError, match="「whisper」のことですか"):
        load_settings(overrides={"engine": "wisper"})


def test_data_dir_pointing_at_a_file_is_refused(tmp_path):
    afile = write(tmp_path / "afile", "x")
    with pytest.raises(SettingsError, match="ファイルがあります"):
        load_settings(overrides={"data_dir": str(afile)})


def test_unknown_setting_name_is_named_with_a_suggestion(tmp_path):
    cfg = write(tmp_path / "s.toml", "retry = 3\n")
    with pytest.raises(SettingsError, match="知らない設定 retry.*「retries」のことですか"):
        load_settings(cfg)


def test_sections_are_explained(tmp_path):
    cfg = write(tmp_path / "s.toml", "[audio]\nvolume = 0.5\n")
    with pytest.raises(SettingsError, match="見出し"):
        load_settings(cfg)


def test_toml_syntax_error_names_the_file_and_line(tmp_path):
    cfg = write(tmp_path / "s.toml", 'engine = "vosk"\nvolume = \n')
    with pytest.raises(SettingsError, match=r"s\.toml.*line 2"):
        load_settings(cfg)


def test_command_line_overrides_file_even_after_the_subcommand(tmp_path):
    cfg = write(tmp_path / "s.toml", 'engine = "whisper"\nvolume = 0.3\nkeep_audio = true\n')
    args = parser_with_subcommand().parse_args(
        ["--config", str(cfg), "--engine", "vosk", "report", "--volume", "0.7", "--no-keep-audio", "20261121"]
    )
    assert args.session == "20261121"
    resolved = S.resolve_all(args)
    assert resolved.settings.engine == "vosk"
    assert resolved.settings.volume == 0.7
    assert resolved.settings.keep_audio is False
    assert resolved.sources["engine"] == "command line"
    assert S.resolve(args) == resolved.settings


def test_every_setting_has_a_command_line_option(tmp_path):
    parser = parser_with_subcommand()
    argv = [
        "--language", "ja", "--microphone", "1", "--speaker", "hdmi", "--engine", "whisper",
        "--voice", "pyttsx3", "--speaking-rate", "slow", "--volume", "0.2", "--pause", "1",
        "--no-answer-timeout", "10", "--retries", "2", "--data-dir", str(tmp_path / "d"),
        "--keep-audio", "--models-dir", str(tmp_path / "m"),
    ]
    s = S.resolve(parser.parse_args(argv))
    assert s == Settings(
        language="ja", microphone="1", speaker="hdmi", engine="whisper", voice="pyttsx3",
        speaking_rate="slow", volume=0.2, pause_s=1.0, no_answer_timeout_s=10.0, retries=2,
        data_dir=tmp_path / "d", keep_audio=True, models_dir=tmp_path / "m",
    )
    # and nothing is set when nothing is given (a sub-command parser must not hide the top one)
    assert S.overrides_from_args(parser.parse_args(["report"])) == {}


def test_wrong_command_line_value_names_the_flag():
    args = parser_with_subcommand().parse_args(["--retries", "many"])
    with pytest.raises(SettingsError, match=r"設定 retries の値 \"many\".*--retries.*1 から 10"):
        S.resolve(args)


def test_commented_config_roundtrips_to_the_defaults(tmp_path):
    path = S.write_commented_config(tmp_path / "new" / "settings.toml")
    text = path.read_text(encoding="utf-8")
    for spec in S.SPECS:
        assert spec.name in text
        assert spec.help in text
    assert text.count("\n# ") > len(S.SPECS)  # explained, not bare
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_settings(path).settings == Settings()


def test_write_commented_config_keeps_an_existing_file_unless_forced(tmp_path):
    path = write(tmp_path / "settings.toml", "retries = 5\n")
    with pytest.raises(SettingsError, match="--force"):
        S.write_commented_config(path)
    assert path.read_text() == "retries = 5\n"
    S.write_commented_config(path, force=True)
    assert load_settings(path).settings.retries == 3


def test_config_command_init_and_show(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    S.add_arguments(parser)
    S.add_config_arguments(parser)
    cfg = tmp_path / "c" / "settings.toml"
    assert S.config_command(parser.parse_args(["--config", str(cfg), "--init"])) == 0
    assert cfg.exists()
    assert str(cfg) in capsys.readouterr().out
    assert S.config_command(parser.parse_args(["--config", str(cfg), "--init"])) == 1
    assert "--force" in capsys.readouterr().out
    assert S.config_command(parser.parse_args(["--config", str(cfg), "--retries", "7"])) == 0
    out = capsys.readouterr().out
    assert "retries" in out and "7" in out and "コマンドライン" in out
    write(cfg, "volume = 9\n")
    assert S.config_command(parser.parse_args(["--config", str(cfg)])) == 1
    assert "設定 volume の値 9" in capsys.readouterr().out


def test_with_overrides_still_works():
    s = Settings().with_overrides(engine="vosk", unknown="x", retries=None)
    assert s.engine == "vosk" and s.retries == 3
