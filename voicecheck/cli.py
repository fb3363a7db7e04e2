"""Command line: parses arguments and hands over to one module per sub-command.

    python run.py [--text | --replay DIR] [--summary FILE]   a session (speaker, terminal or recordings)
    python run.py evaluate MANIFEST.tsv [--json]             answer-matching accuracy for testers
    python run.py exercises [ID …] [--text]                  the exercise coach on its own
    python run.py check | config --init | report | history | models fetch
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voicecheck import settings as settings_module
from voicecheck.settings import Settings


def _common() -> argparse.ArgumentParser:
    """Settings flags, accepted before or after the sub-command."""
    common = argparse.ArgumentParser(add_help=False)
    settings_module.add_arguments(common)
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="voicecheck", parents=[common],
        description="膝折れ（膝がカクンとなる）についての音声アシスタント。端末の中だけで動きます。",
    )
    parser.add_argument("--text", action="store_true", help="文字で話す（画面に表示し、キーボードか標準入力で答える）")
    parser.add_argument("--replay", metavar="DIR", help="DIR の WAV ファイルを順番に答えとして使う（テスト用）")
    parser.add_argument("--replay-out", metavar="DIR", help="再生モードで話した内容（WAV と文字）を書き出す場所")
    parser.add_argument("--summary", metavar="FILE", help="まとめ（JSON）をこのファイルにも書く")
    parser.add_argument("--no-confirm", action="store_true", help="聞き取りが不確かでも聞き返さずに一番近い答えを使う")
    parser.add_argument("--fresh", action="store_true", help="途中のセッションがあっても新しく始める（途中のものは別にしておく）")
    parser.add_argument("--resume", metavar="SESSION", help="途中で終わった（やめた）セッションを、名前を指定して続きから始める")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ev = sub.add_parser("evaluate", parents=[common], help="答えの聞き取り精度を測る（テスト用）")
    ev.add_argument("manifest", type=Path, help="TSV: text または audio, question, expected の列")
    ev.add_argument("--json", action="store_true", help="結果を JSON で出す")

    ex = sub.add_parser("exercises", parents=[common], help="自宅でできる体操を音声で案内する")
    ex.add_argument("ids", nargs="*", metavar="ID", help="体操の id（省略するとおすすめの体操）")
    ex.add_argument("--text", action="store_true", help="文字で案内する")
    ex.add_argument("--slow", action="store_true", help="ゆっくり数える")

    sub.add_parser("check", parents=[common], help="マイク・スピーカー・モデル・設定を点検する")

    cfg = sub.add_parser("config", parents=[common], help="設定ファイルを作る・表示する")
    settings_module.add_config_arguments(cfg)

    rep = sub.add_parser("report", parents=[common], help="お医者さん向けのまとめを作る")
    rep.add_argument("session", nargs="?", help="セッション名（省略すると最新）")
    rep.add_argument("--format", choices=("md", "html", "json", "all"), default="all")
    rep.add_argument("--output", metavar="PATH", help="書き出す先（ファイルまたはフォルダ）")

    sub.add_parser("history", parents=[common], help="これまでのセッションと答えの変化")

    mod = sub.add_parser("models", parents=[common], help="音声認識モデルを取得・確認する")
    mod.add_argument("action", choices=("fetch", "verify", "list"))
    mod.add_argument("names", nargs="*", metavar="MODEL")
    mod.add_argument("--quiet", action="store_true")

    srv = sub.add_parser("serve", parents=[common], help="部屋ごとのサテライト（Wyoming）で質問する。音声サービスも開ける")
    from voicecheck.satellites.config import add_arguments as add_serve_arguments
    add_serve_arguments(srv)
    return parser


def _friendly_errors() -> tuple[type[BaseException], ...]:
    """Errors that carry a message for the caregiver; anything else is a bug and shows a traceback."""
    from voicecheck.content import ContentError
    from voicecheck.store import StoreError

    errors: list[type[BaseException]] = [ContentError, StoreError, settings_module.SettingsError]
    from voicecheck.audio import SpeechError  # models, audio files, devices, recognisers, voices

    errors.append(SpeechError)
    return tuple(errors)


def _usable_output() -> None:
    """A closed standard output or error (run.py >&-) becomes a discard, and text that the
    terminal's encoding cannot show is replaced, so printing never ends a session."""
    from voicecheck.textio import DiscardOutput

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, DiscardOutput())
        elif hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="replace")
            except (ValueError, OSError):
                pass


def main(argv: list[str] | None = None) -> int:
    _usable_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    friendly = _friendly_errors()
    try:
        # `config` shows and mends the settings file, so it must work even when the file is wrong.
        settings = None if args.command == "config" else settings_module.resolve(args)
        return _dispatch(args, settings)
    except friendly as err:
        print(f"voicecheck: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\n中断しました。ここまでのお答えは保存してあります。", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`); answers are saved after each question.
        import os

        from voicecheck.textio import DiscardOutput

        try:  # the interpreter flushes stdout once more on exit: point it at nothing
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
        except (OSError, AttributeError, ValueError):
            pass
        sys.stdout = DiscardOutput()
        print("画面への出力が途中で閉じられました。ここまでのお答えは保存してあります。", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command
    if command is None:
        from voicecheck.app import run_session_command
        return run_session_command(args, settings)
    if command == "evaluate":
        from voicecheck.app import evaluate_command
        return evaluate_command(args, settings)
    if command == "exercises":
        from voicecheck.app import exercises_command
        return exercises_command(args, settings)
    if command == "check":
        from voicecheck.check import command as check_command
        return check_command(args, settings)
    if command == "config":
        return settings_module.config_command(args)
    if command == "report":
        from voicecheck.report import command as report_command
        return report_command(args, settings)
    if command == "history":
        from voicecheck.history import command as history_command
        return history_command(args, settings)
    if command == "models":
        from voicecheck.models import command as models_command
        return models_command(args, settings)
    if command == "serve":
        from voicecheck.satellites.server import serve_command
        return serve_command(args, settings)
    raise AssertionError(command)
