"""Settings: defaults, overridden by one TOML file, overridden by the command line.

The file is found at ``--config FILE``, else ``$VOICECHECK_CONFIG``, else
``~/.config/voicecheck/settings.toml`` (``$XDG_CONFIG_HOME`` respected). A missing default file
just means "use the defaults"; a file named explicitly must exist.

Every value is checked once, here, so a wrong value is reported as "setting X has value Y;
allowed are Z" before any audio device or model is touched.
"""
from __future__ import annotations

import argparse
import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_ENV = "VOICECHECK_CONFIG"
MAX_CONFIG_BYTES = 256 * 1024  # a settings file is a few dozen lines


def default_data_dir() -> Path:
    env = os.environ.get("VOICECHECK_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "voicecheck"


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "voicecheck" / "settings.toml"


@dataclass(frozen=True)
class Settings:
    language: str = "ja"
    microphone: str | None = None  # device name (part of it) or index; None: system default
    speaker: str | None = None
    engine: str = "auto"  # vosk | whisper | auto
    voice: str = "openjtalk"  # openjtalk | pyttsx3
    speaking_rate: str = "normal"  # normal (about 5 morae a second) | slow
    volume: float = 1.0  # 0.0 .. 1.0
    pause_s: float = 0.4  # silence between phrases
    no_answer_timeout_s: float = 20.0
    end_silence_s: float = 1.3  # silence that ends an answer; longer for slow speakers with pauses
    end_when_complete: bool = True  # reply after a short pause when the answer is already complete
    turn_tone: bool = True  # a short soft tone when the device starts listening (README: Sound settings)
    early_answers: bool = True  # listen while the device talks, so answers begun early are kept (README)
    barge_in: bool = True  # with early_answers: stop reading the choices when the person starts answering
    retries: int = 3  # tries per question before it is marked unknown
    data_dir: Path = None  # type: ignore[assignment]  # filled by __post_init__
    keep_audio: bool = False
    models_dir: Path = PROJECT_DIR / "models"

    def __post_init__(self) -> None:
        if self.data_dir is None:
            object.__setattr__(self, "data_dir", default_data_dir())

    @property
    def prompts_dir(self) -> Path:
        return PROJECT_DIR / "prompts" / self.language

    def with_overrides(self, **overrides: object) -> "Settings":
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in overrides.items() if k in known and v is not None})


class SettingsError(Exception):
    """A settings file or value that cannot be used; the message says what to change."""


# ------------------------------------------------------------------ what each setting accepts


def available_languages() -> tuple[str, ...]:
    prompts = PROJECT_DIR / "prompts"
    if not prompts.is_dir():
        return ("ja",)
    return tuple(sorted(p.name for p in prompts.iterdir() if p.is_dir() and not p.name.startswith(".")))


@dataclass(frozen=True)
class Spec:
    """How one setting is written, checked and explained."""

    name: str
    kind: str  # choice | number | whole | switch | folder | device
    help: str  # one line for the settings file and --help (Japanese: caregivers read it)
    choices: Callable[[], tuple[str, ...]] | tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    unit: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-").removesuffix("-s")

    def allowed_choices(self) -> tuple[str, ...]:
        return self.choices() if callable(self.choices) else self.choices

    def allowed(self) -> str:
        """What this setting accepts, in words."""
        if self.kind == "choice":
            return ", ".join(self.allowed_choices()) + " のどれか"
        if self.kind in ("number", "whole"):
            what = "整数" if self.kind == "whole" else "数"
            return f"{self.low:g} から {self.high:g} までの{what}" + (f"（{self.unit}）" if self.unit else "")
        if self.kind == "switch":
            return "true か false"
        if self.kind == "folder":
            return "フォルダのパス（~ はホームフォルダ）"
        return "機器の名前の一部か番号。空（\"\"）か default なら、ふだん使う機器"


SPECS: tuple[Spec, ...] = (
    Spec("language", "choice", "話す言葉", available_languages),
    Spec("microphone", "device", "マイク（python run.py check で一覧が見られます）"),
    Spec("speaker", "device", "スピーカー（python run.py check で一覧が見られます）"),
    Spec("engine", "choice", "音声認識エンジン。auto はあるものを使います", ("auto", "vosk", "whisper")),
    Spec("voice", "choice", "読み上げの声", ("openjtalk", "pyttsx3")),
    Spec("speaking_rate", "choice", "話す速さ。slow はゆっくり", ("normal", "slow")),
    Spec("volume", "number", "音量。1.0 がいちばん大きい", low=0.0, high=1.0),
    Spec("pause_s", "number", "文と文のあいだの間", low=0.0, high=5.0, unit="秒"),
    Spec("no_answer_timeout_s", "number", "返事を待つ時間", low=3.0, high=600.0, unit="秒"),
    Spec("end_silence_s", "number", "この長さ黙ったら答えが終わったとみなす（ゆっくり話す方は長めに）", low=0.5, high=5.0, unit="秒"),
    Spec("end_when_complete", "switch", "はっきりした答えなら、短い間のあとすぐ次に進むか（false なら毎回 end_silence_s 待つ）"),
    Spec("turn_tone", "switch", "聞き始めるときに小さな合図の音（ポン）を鳴らすか"),
    Spec("early_answers", "switch", "質問の途中の答えも聞き取るか（対応しないサウンドカードでは、質問を読み終えてから聞き取る）"),
    Spec("barge_in", "switch", "early_answers のとき、選択肢の読み上げ中に答え始めたら読むのをやめて聞くか"),
    Spec("retries", "whole", "聞き取れないとき聞き直す回数（超えると「わからない」にします）", low=1, high=10),
    Spec("data_dir", "folder", "答えを保存するフォルダ（本人だけが読めるようにします）"),
    Spec("keep_audio", "switch", "録音を残すか。ふだんは false（残さない）"),
    Spec("models_dir", "folder", "音声認識モデルのフォルダ"),
)
SPEC_BY_NAME: dict[str, Spec] = {s.name: s for s in SPECS}
# Tables of the settings file that other modules read and check (voicecheck.satellites.config).
SECTION_TABLES = ("satellites", "speech_services")
assert set(SPEC_BY_NAME) == {f.name for f in fields(Settings)}, "every Settings field needs a Spec"

_TRUE = {"true", "yes", "on", "1", "はい"}
_FALSE = {"false", "no", "off", "0", "いいえ"}


def _wrong(spec: Spec, value: object, where: str, why: str = "") -> SettingsError:
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    if isinstance(value, bool):
        shown = "true" if value else "false"
    message = f"設定 {spec.name} の値 {shown} は使えません（{where}）。"
    if why:
        message += why + "。"
    message += f"使えるのは {spec.allowed()}です。"
    if spec.kind == "choice" and isinstance(value, str):
        close = difflib.get_close_matches(value.strip().lower(), spec.allowed_choices(), n=1)
        if close:
            message += f"「{close[0]}」のことですか。"
    return SettingsError(message)


def parse_value(spec: Spec, value: object, where: str, base_dir: Path | None = None) -> Any:
    """Check one value from the file (typed) or the command line (text) and convert it."""
    if spec.kind == "choice":
        if not isinstance(value, str) or value.strip().lower() not in spec.allowed_choices():
            raise _wrong(spec, value, where)
        return value.strip().lower()
    if spec.kind in ("number", "whole"):
        number: float | int
        if isinstance(value, bool):
            raise _wrong(spec, value, where)
        if isinstance(value, str):
            try:
                number = int(value.strip()) if spec.kind == "whole" else float(value.strip())
            except ValueError:
                raise _wrong(spec, value, where) from None
        elif isinstance(value, int) or (isinstance(value, float) and spec.kind == "number"):
            number = value
        else:
            raise _wrong(spec, value, where)
        assert spec.low is not None and spec.high is not None
        if number != number or not spec.low <= number <= spec.high:  # NaN fails too
            raise _wrong(spec, value, where)
        return float(number) if spec.kind == "number" else int(number)
    if spec.kind == "switch":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _wrong(spec, value, where)
    if spec.kind == "folder":
        if not isinstance(value, str) or not value.strip():
            raise _wrong(spec, value, where)
        path = Path(value.strip()).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path  # a relative path in the file means "next to the file"
        if path.exists() and not path.is_dir():
            raise _wrong(spec, value, where, "そこにはフォルダではなくファイルがあります")
        return path
    # device
    if isinstance(value, bool):
        raise _wrong(spec, value, where)
    if isinstance(value, int):
        if value < 0:
            raise _wrong(spec, value, where)
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        return None if text.lower() in ("", "default") else text
    raise _wrong(spec, value, where)


# ------------------------------------------------------------------ the file


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw table of a settings file; SettingsError for syntax errors and unknown names."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)  # a limit: --config /dev/zero must not eat the memory
        if len(raw) > MAX_CONFIG_BYTES:
            raise SettingsError(f"設定ファイル {path} が大きすぎます（{MAX_CONFIG_BYTES // 1024} KiB まで）。"
                                "設定ファイルではないようです。python run.py config --init で作り直せます。")
        # Windows Notepad saves with a byte order mark; TOML does not allow one, people do.
        data = tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))
    except FileNotFoundError:
        raise SettingsError(
            f"設定ファイル {path} がありません。python run.py config --init で作れます。"
        ) from None
    except IsADirectoryError:
        raise SettingsError(f"設定ファイル {path} はフォルダです。ファイルを指定してください。") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"設定ファイル {path} の書き方に誤りがあります: {e}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"設定ファイル {path} は UTF-8 の文字ではありません。"
                            "テキストエディタで UTF-8 として保存し直してください。") from None
    except OSError as e:
        raise SettingsError(f"設定ファイル {path} を読めません: {e.strerror or e}") from None
    for name, value in data.items():
        if name in SECTION_TABLES:
            continue  # read and checked by its own module
        if name not in SPEC_BY_NAME:
            hint = ""
            close = difflib.get_close_matches(name, list(SPEC_BY_NAME), n=1)
            if isinstance(value, dict):
                hint = f"[{name}] のような見出しは使いません。すべて「名前 = 値」の形で書いてください。"
            elif close:
                hint = f"「{close[0]}」のことですか。"
            raise SettingsError(
                f"設定ファイル {path} に知らない設定 {name} があります。{hint}"
                f"使える設定: {', '.join(SPEC_BY_NAME)}。"
            )
    return data


def config_path_for(explicit: str | Path | None = None) -> tuple[Path, bool]:
    """The settings file to read and whether it was named explicitly (then it must exist)."""
    if explicit:
        return Path(explicit).expanduser(), True
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser(), True
    return default_config_path(), False


@dataclass(frozen=True)
class Resolved:
    settings: Settings
    config_file: Path | None  # the file that was read, None when there was none
    sources: dict[str, str]  # setting name -> "default" | "file" | "command line"


def load_settings(
    config: str | Path | None = None, overrides: Mapping[str, object] | None = None
) -> Resolved:
    """Defaults, then the settings file, then `overrides` (command-line text values)."""
    path, explicit = config_path_for(config)
    values: dict[str, Any] = {}
    sources = {s.name: "default" for s in SPECS}
    config_file: Path | None = None
    if explicit or path.exists():
        raw = read_config_file(path)
        config_file = path
        for name, value in raw.items():
            if name in SECTION_TABLES:
                continue
            spec = SPEC_BY_NAME[name]
            values[name] = parse_value(spec, value, f"設定ファイル {path}", base_dir=path.parent)
            sources[name] = "file"
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        spec = SPEC_BY_NAME.get(name)
        if spec is None:
            raise SettingsError(f"知らない設定 {name} です。使える設定: {', '.join(SPEC_BY_NAME)}。")
        values[name] = parse_value(spec, value, f"コマンドラインの {spec.flag}")
        sources[name] = "command line"
    return Resolved(Settings(**values), config_file, sources)


def _toml_value(value: object) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def commented_config_text(settings: Settings | None = None) -> str:
    """A settings file listing every setting with an explanation and its current value."""
    settings = settings or Settings()
    lines = [
        "# voicecheck の設定ファイル",
        "# 「名前 = 値」の形で書きます。# から後ろはメモで、読み込まれません。",
        "# 行を消すと、その設定は初めの値に戻ります。",
        "# どの設定も、コマンドラインで一回だけ変えられます（例: python run.py --speaking-rate slow）。",
        "",
    ]
    for spec in SPECS:
        value = getattr(settings, spec.name)
        lines.append(f"# {spec.help}")
        lines.append(f"# 使えるもの: {spec.allowed()}")
        line = f"{spec.name} = {_toml_value(value)}"
        if spec.kind == "folder" and value == getattr(Settings(), spec.name):
            line = "# " + line  # where the machine puts it by default; left to follow that default
        lines.append(line)
        lines.append("")
    lines += [
        "# 部屋ごとのサテライト（python run.py serve）。「名前 = アドレス」で、いくつでも書けます。",
        "# daily は毎日の確認の時刻、start = \"now\" はつながったらすぐ始める、です（README: Rooms with voice satellites）。",
        "# [satellites]",
        "# \"居間\" = \"tcp://192.168.1.20:10700\"",
        "# \"寝室\" = { uri = \"tcp://192.168.1.21:10700\", daily = \"09:30\" }",
        "",
        "# Home Assistant 向けの音声合成・音声認識サービス。初めは使わず、使うときもこの機械の中だけに開きます。",
        "# [speech_services]",
        "# enabled = true",
        "# host = \"127.0.0.1\"",
        "# port = 10350",
        "",
    ]
    return "\n".join(lines)


def write_commented_config(path: Path, force: bool = False) -> Path:
    """Write a commented settings file; an existing file is kept unless `force`."""
    path = Path(path).expanduser()
    if path.exists() and not force:
        raise SettingsError(f"設定ファイル {path} はもうあります。上書きするときは --force を付けてください。")
    if path.exists() and path.is_dir():
        raise SettingsError(f"{path} はフォルダです。ファイルの名前を指定してください。")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(commented_config_text())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise SettingsError(f"設定ファイル {path} を書けません（{e.strerror}）。") from None
    return path


# ------------------------------------------------------------------ the command line


def _dest(name: str) -> str:
    return f"setting_{name}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --config and one option per setting. Safe to call on the main parser and on each
    sub-command parser: nothing is set unless given, so a later parser never hides an earlier value."""
    group = parser.add_argument_group("設定（設定ファイルより優先）")
    group.add_argument(
        "--config", dest=_dest("config"), metavar="FILE", default=argparse.SUPPRESS,
        help=f"設定ファイル（ふだんは ${CONFIG_ENV} か {default_config_path()}）",
    )
    for spec in SPECS:
        metavar = {"choice": "|".join(spec.allowed_choices()), "folder": "DIR", "device": "NAME"}.get(spec.kind, "N")
        if spec.kind == "switch":
            # plain flags, no value: "--keep-audio report" must not read "report" as the value
            group.add_argument(
                spec.flag, dest=_dest(spec.name), action="store_const", const="true",
                default=argparse.SUPPRESS, help=spec.help,
            )
            group.add_argument(
                "--no-" + spec.flag[2:], dest=_dest(spec.name), action="store_const", const="false",
                default=argparse.SUPPRESS, help=f"{spec.flag} の反対",
            )
        else:
            group.add_argument(
                spec.flag, dest=_dest(spec.name), metavar=metavar, default=argparse.SUPPRESS,
                help=f"{spec.help}。{spec.allowed()}" if spec.kind in ("number", "whole") else spec.help,
            )


def overrides_from_args(args: argparse.Namespace) -> dict[str, object]:
    return {s.name: getattr(args, _dest(s.name)) for s in SPECS if getattr(args, _dest(s.name), None) is not None}


def resolve_all(args: argparse.Namespace) -> Resolved:
    return load_settings(getattr(args, _dest("config"), None), overrides_from_args(args))


def resolve(args: argparse.Namespace) -> Settings:
    """The settings in force for this run; SettingsError names the setting, value and what is allowed."""
    return resolve_all(args).settings


def describe(resolved: Resolved) -> list[tuple[str, str, str]]:
    """(name, value, where it came from) for every setting, for `check` and `config`."""
    where = {"default": "初めの値", "file": "設定ファイル", "command line": "コマンドライン"}
    rows = []
    for spec in SPECS:
        value = getattr(resolved.settings, spec.name)
        if value is None:
            shown = "ふだん使う機器"
        elif isinstance(value, bool):
            shown = "はい" if value else "いいえ"
        else:
            shown = str(value)
        rows.append((spec.name, shown, where[resolved.sources[spec.name]]))
    return rows


# ------------------------------------------------------------------ `python run.py config`


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `config` sub-command."""
    parser.add_argument("--init", action="store_true", help="説明付きの設定ファイルを作る")
    parser.add_argument("--force", action="store_true", help="--init で、ある設定ファイルを上書きする")


def config_command(args: argparse.Namespace) -> int:
    """`config --init` writes a commented file; `config` alone shows the settings in force."""
    path, _ = config_path_for(getattr(args, _dest("config"), None))
    if getattr(args, "init", False):
        try:
            written = write_commented_config(path, force=getattr(args, "force", False))
        except SettingsError as e:
            print(e)
            return 1
        print(f"設定ファイルを作りました: {written}")
        print("テキストエディタで開いて、変えたいところを書き換えてください。")
        return 0
    try:
        resolved = resolve_all(args)
    except SettingsError as e:
        print(e)
        return 1
    if resolved.config_file:
        print(f"設定ファイル: {resolved.config_file}")
    else:
        print(f"設定ファイルはありません（{path}）。初めの値を使います。作るには: python run.py config --init")
    width = max(len(s.name) for s in SPECS)
    for name, value, source in describe(resolved):
        print(f"  {name:<{width}}  {value}  （{source}）")
    return 0

