"""Wiring: builds the edges (terminal, microphone, speaker, recordings, files) around the core.

Each function here is one command of the command line. They choose and open devices and files,
then hand plain objects to the pure core (questionnaire, assessment, coach).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from voicecheck.content import Content, load_content
from voicecheck.conversation import Progress, Talk
from voicecheck.interfaces import Ears, Mouth
from voicecheck.session import run_session
from voicecheck.settings import Settings
from voicecheck.store import SessionRecord, SessionStore, write_json_atomic
from voicecheck.textio import TextEars, TextMouth


class TeeMouth:
    """Speaks through one mouth and also shows the words in the terminal."""

    def __init__(self, *mouths: Mouth) -> None:
        self.mouths = mouths

    def say(self, text: str, *, slow: bool = False) -> None:
        for mouth in self.mouths:
            mouth.say(text, slow=slow)


def _note(message: str) -> None:
    """A line for the caregiver or tester, kept apart from the spoken dialogue."""
    print(message, file=sys.stderr)


def _load_matcher(content: Content):
    from voicecheck.matcher import Matcher
    return Matcher(content)


def open_io(mode: str, args: argparse.Namespace, settings: Settings, out_dir: Path | None = None) -> tuple[str, Ears, Mouth]:
    """Ears and mouth for a mode: "text", "replay" or "live" (falls back to text without a microphone)."""
    if mode == "live":
        from voicecheck.speech_io import microphone_available
        available, reason = microphone_available(settings)
        if not available:
            _note(f"{reason} 文字入力モードで始めます。")
            mode = "text"
    if mode == "text":
        return mode, TextEars(), TextMouth()
    from voicecheck.recognizers import select_recognizer
    from voicecheck.voices import select_voice
    recognizer = select_recognizer(settings)
    voice = select_voice(settings)
    if mode == "replay":
        from voicecheck.speech_io import ReplayEars, WavMouth
        assert out_dir is not None
        return mode, ReplayEars(Path(args.replay), recognizer), TeeMouth(WavMouth(out_dir, voice), TextMouth())
    from voicecheck.speech_io import MicrophoneEars, SpeakerMouth
    # Recordings are kept (in a private folder) only with keep-audio on; MicrophoneEars checks it.
    return mode, MicrophoneEars(settings, recognizer, audio_dir=out_dir), TeeMouth(SpeakerMouth(voice, settings), TextMouth())


def _resume_or_start(store: SessionStore, content: Content, matcher, ears: Ears, mouth: Mouth,
                     mode: str, fresh: bool) -> tuple[SessionRecord, Progress | None]:
    """Offer to continue a session that was cut off; replayed sessions always start afresh."""
    unfinished = None if (fresh or mode == "replay") else store.unfinished()
    if unfinished is not None:
        saved = unfinished.load_progress()
        if saved:
            progress = Progress.from_json(saved)
            talk = Talk(content, matcher, ears, mouth, unfinished.log)
            talk.say_phrase("resume_offer", answered=len(progress.answers))
            if talk.ask_yes_no():
                talk.say_phrase("resume_yes")
                return unfinished, progress
            talk.say_phrase("resume_no")
        unfinished.abandon()
    return store.start(mode), None


def run_session_command(args: argparse.Namespace, settings: Settings) -> int:
    content = load_content(settings.prompts_dir)
    matcher = _load_matcher(content)
    store = SessionStore(settings.data_dir)
    mode = "replay" if args.replay else "text" if args.text else "live"
    if mode == "replay" and not Path(args.replay).is_dir():
        _note(f"録音フォルダ {args.replay} が見つかりません。WAV ファイルの入ったフォルダを指定してください。")
        return 2
    record = store.start(mode) if mode == "replay" else None
    # What a replay says is written as WAV where the tester asks; otherwise it is kept only with
    # keep-audio on, since the read-back repeats health answers.
    spoken_dir: tempfile.TemporaryDirectory | None = None
    out_dir: Path | None = None
    if mode == "replay":
        if args.replay_out:
            out_dir = Path(args.replay_out)
        elif settings.keep_audio and record is not None:
            out_dir = record.audio_dir() / "spoken"
        else:
            spoken_dir = tempfile.TemporaryDirectory(prefix="voicecheck-spoken-")
            out_dir = Path(spoken_dir.name)
    try:
        return _run_session(args, settings, content, matcher, store, record, mode, out_dir)
    finally:
        if spoken_dir is not None:
            spoken_dir.cleanup()


def _run_session(args: argparse.Namespace, settings: Settings, content: Content, matcher, store: SessionStore,
                 record: SessionRecord | None, mode: str, out_dir: Path | None) -> int:
    if mode == "live" and settings.keep_audio:
        out_dir = store.audio_dir()
    mode, ears, mouth = open_io(mode, args, settings, out_dir)
    progress = None
    if record is None:
        from voicecheck.conversation import InputEnded
        try:
            record, progress = _resume_or_start(store, content, matcher, ears, mouth, mode, args.fresh)
        except InputEnded:
            return 0
    result = run_session(
        content, matcher, ears, mouth, record, mode=mode, retries=settings.retries,
        # Typing takes longer than speaking: a typed answer is waited for without a time limit.
        confirm=not args.no_confirm, timeout_s=None if mode == "text" else settings.no_answer_timeout_s,
        progress=progress,
        coach=_coach_runner(content, settings, slow=settings.speaking_rate == "slow"),
    )
    path = record.finish(result.summary)
    if args.summary:
        write_json_atomic(Path(args.summary), result.summary)
    _note(f"記録を保存しました: {path}")
    return 0


def _coach_runner(content: Content, settings: Settings, slow: bool = False):
    from voicecheck.coach import command_matcher, run_coach
    from voicecheck.interfaces import RealClock
    book = content.exercises
    match_command = command_matcher(book)

    def coach(ids: tuple[str, ...], ears: Ears, mouth: Mouth) -> tuple[str, ...]:
        result = run_coach(ids, book=book, ears=ears, mouth=mouth, clock=RealClock(),
                           match_command=match_command, slow=slow)
        return tuple(result.completed)

    return coach


def exercises_command(args: argparse.Namespace, settings: Settings) -> int:
    content = load_content(settings.prompts_dir)
    book = content.exercises
    if book.unknown_ids(args.ids):
        _note(book.unknown_message(args.ids))
        return 2
    mode, ears, mouth = open_io("text" if args.text else "live", args, settings)
    coach = _coach_runner(content, settings, slow=args.slow or settings.speaking_rate == "slow")
    coach(tuple(args.ids) or book.default_exercises, ears, mouth)
    return 0


def evaluate_command(args: argparse.Namespace, settings: Settings) -> int:
    from voicecheck.evaluate import run_evaluate
    content = load_content(settings.prompts_dir)
    matcher = _load_matcher(content)
    transcribe, engine = None, None
    if _manifest_has_audio(args.manifest):
        from voicecheck.recognizers import select_recognizer
        from voicecheck.speech_io import transcribe_file
        recognizer = select_recognizer(settings)
        engine = recognizer.name
        transcribe = lambda path, qid: transcribe_file(path, qid, recognizer, matcher.phrases(qid))  # noqa: E731
    return run_evaluate(args.manifest, as_json=args.json, matcher=matcher, transcribe=transcribe, engine=engine)


def _manifest_has_audio(manifest: Path) -> bool:
    try:
        with manifest.open(encoding="utf-8") as f:
            header = f.readline().rstrip("\r\n").split("\t")
    except OSError:
        return False  # run_evaluate reports the unreadable file
    return "audio" in header
