"""Wiring: builds the edges (terminal, microphone, speaker, recordings, files) around the core.

Each function here is one command of the command line. They choose and open devices and files,
then hand plain objects to the pure core (questionnaire, assessment, coach).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from voicecheck.content import Content, load_content
from voicecheck.conversation import Progress
from voicecheck.interfaces import Ears, Mouth
from voicecheck.session import TranscriptLog, progress_from_saved, run_session
from voicecheck.settings import Settings
from voicecheck.store import (DAMAGED_FILE, SessionRecord, SessionStore, StoreError, StoreWriteError, os_reason,
                              write_json_atomic)
from voicecheck.talk import YES_NO, InputEnded, Talk
from voicecheck.textio import DiscardOutput, TextEars, TextMouth


class TeeMouth:
    """Speaks through one mouth and also shows the words in the terminal.

    The terminal is only a help: a closed or broken one must not silence the speaker."""

    def __init__(self, *mouths: Mouth) -> None:
        self.mouths = mouths

    def prepare(self, texts) -> None:
        for mouth in self.mouths:
            prepare = getattr(mouth, "prepare", None)
            if prepare is not None:
                prepare(texts)

    def say(self, text: str, *, slow: bool = False) -> None:
        for mouth in self.mouths:
            if not isinstance(mouth, TextMouth):
                mouth.say(text, slow=slow)
                continue
            try:
                mouth.say(text, slow=slow)
            except (OSError, ValueError):
                pass


def _note(message: str) -> None:
    """A line for the caregiver or tester, kept apart from the spoken dialogue."""
    try:
        print(message, file=sys.stderr)
    except (OSError, ValueError, AttributeError):
        pass  # no terminal to write to: the spoken message is all there is


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
            problem = _terminal_problem()
            if problem:
                from voicecheck.audio import SpeechError
                raise SpeechError(problem)
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
    from voicecheck.speech_io import MicrophoneEars, SpeakerMouth, open_live_audio
    # Recordings are kept (in a private folder) only with keep-audio on; the ears check it. The
    # words are shown as they start to be spoken.
    if settings.early_answers:  # one sound-card stream for the whole session: answers given early are kept
        from voicecheck.audio import AudioDeviceError
        from voicecheck.content import load_content
        try:
            ears, speaker = open_live_audio(settings, voice, recognizer, load_content(settings.prompts_dir),
                                            audio_dir=out_dir)
            return mode, ears, TeeMouth(TextMouth(), speaker)
        except AudioDeviceError as e:
            _note(f"この機器では、質問の途中の答えは聞き取れません（{e}）。質問を読み終えてから聞き取ります。")
    speaker = SpeakerMouth(voice, settings)
    return mode, MicrophoneEars(settings, recognizer, audio_dir=out_dir, tone=speaker.tone), TeeMouth(TextMouth(), speaker)


# ------------------------------------------------------------------ checks before anything starts


def _terminal_problem() -> str | None:
    """Text mode needs somewhere to read answers from and to show the questions on."""
    if sys.stdin is None or getattr(sys.stdin, "closed", False):
        return "標準入力が閉じているので、文字入力モードでは答えられません。キーボードか、答えを流し込んで使ってください。"
    if sys.stdout is None or getattr(sys.stdout, "closed", False) or isinstance(sys.stdout, DiscardOutput):
        return "標準出力が閉じているので、文字入力モードでは質問を表示できません。"
    return None


def _summary_path_problem(summary: str) -> str | None:
    """--summary is checked at the start, not found to be wrong after a whole session."""
    path = Path(summary).expanduser()
    if path.is_dir():
        return f"--summary {summary} はフォルダです。まとめを書くファイルの名前を指定してください。"
    parent = path.parent
    if not parent.is_dir():
        return f"--summary のフォルダ {parent} がありません。先にフォルダを作るか、別の場所を指定してください。"
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"--summary {summary} には書き込めません（権限がありません）。"
    return None


def _replay_folder_problem(folder: str) -> str | None:
    path = Path(folder).expanduser()
    try:
        if not path.exists():
            return f"録音フォルダ {folder} が見つかりません。WAV ファイルの入ったフォルダを指定してください。"
        if not path.is_dir():
            return f"{folder} はフォルダではなくファイルです。WAV ファイルの入ったフォルダを指定してください。"
        wavs = [e for e in os.scandir(path) if e.name.lower().endswith(".wav") and e.is_file()]
    except OSError as e:
        return f"録音フォルダ {folder} を読めません（{os_reason(e)}）。"
    if not wavs:
        return f"録音フォルダ {folder} に WAV ファイルがありません。答えを録音した .wav ファイルを入れてください。"
    unreadable = sorted(e.name for e in wavs if not os.access(e.path, os.R_OK))
    if unreadable:
        return (f"録音フォルダ {folder} の {', '.join(unreadable[:3])} を読めません（読む権限がありません）。"
                "ファイルの権限を直してください。")
    return None


# ------------------------------------------------------------------ a session


def run_session_command(args: argparse.Namespace, settings: Settings) -> int:
    mode = "replay" if args.replay else "text" if args.text else "live"
    problem = None
    if args.summary:
        problem = _summary_path_problem(args.summary)
    if problem is None and mode == "replay":
        problem = _replay_folder_problem(args.replay)
    if problem is None and mode == "text":
        problem = _terminal_problem()
    if problem:
        _note(problem)
        return 2
    os.umask(0o077)  # every file a session writes (answers, recordings, read-back) is health data
    content = load_content(settings.prompts_dir)
    matcher = _load_matcher(content)
    if mode == "replay":
        return _run_replay(args, settings, content, matcher)
    store = SessionStore(settings.data_dir)
    with store.lock():  # one conversation per data folder; SessionRunning says so
        store.sweep()
        return _run_session(args, settings, content, matcher, store, mode)


def _run_replay(args: argparse.Namespace, settings: Settings, content: Content, matcher) -> int:
    """A replayed (test) session lives apart from the user's (see SessionStore.for_replays)."""
    store = SessionStore.for_replays(settings.data_dir)
    store.sweep()  # read-back folders of replays that were killed
    try:
        record = store.start("replay")
    except StoreWriteError as err:
        _note(str(err))
        return 2
    running = record.hold()
    # What a replay says is written as WAV where the tester asks; otherwise it is kept only with
    # keep-audio on, since the read-back repeats health answers, and removed at the end.
    temporary = not args.replay_out and not settings.keep_audio
    try:
        if args.replay_out:
            out_dir = Path(args.replay_out)
        elif settings.keep_audio:
            out_dir = record.audio_dir() / "spoken"
        else:
            out_dir = record.spoken_dir()
        try:
            mode, ears, mouth = open_io("replay", args, settings, out_dir)
        except BaseException:
            if not record.progress_path.exists():
                shutil.rmtree(record.path, ignore_errors=True)  # nothing was said: leave no empty session
            raise
        return _converse(args, settings, content, matcher, record, None, mode, ears, mouth)
    finally:
        if temporary:
            record.remove_spoken_dir()
        running.release()


def _run_session(args: argparse.Namespace, settings: Settings, content: Content, matcher, store: SessionStore,
                 mode: str) -> int:
    out_dir = store.audio_dir() if mode == "live" and settings.keep_audio else None
    mode, ears, mouth = open_io(mode, args, settings, out_dir)
    try:
        record, progress = _resume_or_start(store, content, matcher, ears, mouth, mode, args)
    except InputEnded:
        return 0
    except StoreWriteError as err:  # a full disk before the first question
        _say(mouth, content, "save_failed_start")
        _note(str(err))
        return 2
    if record is None:
        return 0  # "stop" at the offer to resume: nothing was changed
    return _converse(args, settings, content, matcher, record, progress, mode, ears, mouth)


def _converse(args: argparse.Namespace, settings: Settings, content: Content, matcher, record: SessionRecord,
              progress: Progress | None, mode: str, ears: Ears, mouth: Mouth) -> int:
    result = run_session(
        content, matcher, ears, mouth, record, mode=mode, retries=settings.retries,
        # Typing takes longer than speaking: a typed answer is waited for without a time limit.
        confirm=not args.no_confirm, timeout_s=None if mode == "text" else settings.no_answer_timeout_s,
        progress=progress,
        coach=_coach_runner(content, settings, slow=settings.speaking_rate == "slow"),
    )
    if result.save_failed is not None:  # already said aloud by the session
        _note(f"{result.save_failed} 次に始めるときに、保存してあるところから続けられます（セッション {record.id}）。")
        return 2
    try:
        path = record.finish(result.summary)
    except StoreWriteError as err:
        _say(mouth, content, "save_failed")
        _note(f"{err} お答えは途中の記録（{record.progress_path}）に残っています。"
              f"空きを作ってから始めると、続きからまとめを作れます（セッション {record.id}）。")
        return 2
    if args.summary:
        try:
            write_json_atomic(Path(args.summary).expanduser(), result.summary)
        except OSError as e:
            _note(f"--summary {args.summary} に書けません（{os_reason(e)}）。まとめはセッションの記録に保存してあります: {path}")
            return 2
    if result.transcript_problem is not None:
        _note(f"注意: 会話の記録（transcript.jsonl）の一部を書けませんでした（{result.transcript_problem}）。"
              "お答えとまとめは保存してあります。")
    _note(f"記録を保存しました: {path}")
    return 0


def _say(mouth: Mouth, content: Content, phrase_id: str) -> None:
    try:
        mouth.say(content.say(phrase_id))
    except Exception:  # the message is also written for the caregiver; a broken speaker must not hide it
        pass


# ------------------------------------------------------------------ resuming


def _resume_or_start(store: SessionStore, content: Content, matcher, ears: Ears, mouth: Mouth,
                     mode: str, args: argparse.Namespace) -> tuple[SessionRecord | None, Progress | None]:
    """Continue a session that was cut off, or start a new one. Nothing is ever thrown away: a
    session not continued is set aside (python run.py --resume SESSION brings it back), and a
    progress file that cannot be read is kept under another name instead of blocking the start."""
    if getattr(args, "resume", None):
        return _resume_named(store, content, matcher, ears, mouth, args.resume)
    while (candidate := store.unfinished()) is not None:
        talk = Talk(content, matcher, ears, mouth, TranscriptLog(candidate.log))
        try:
            progress = progress_from_saved(candidate.load_progress(), content)
        except (StoreError, ValueError) as err:
            candidate.set_aside_damaged()
            talk.say_phrase("resume_damaged")
            _note(f"セッション {candidate.id} の途中の記録が壊れていたため、別にしました"
                  f"（{candidate.path / DAMAGED_FILE}、{err}）。新しく始めます。")
            continue
        if getattr(args, "fresh", False) or not progress.answers:
            candidate.abandon()
            if progress.answers:
                _note(f"途中のセッション {candidate.id} は別にしておきました。"
                      f"続きから始めるには: python run.py --resume {candidate.id}")
            continue
        choice = _ask_resume(talk, len(progress.answers))
        talk.log({"type": "resume_offer", "choice": choice})
        if choice == "stop":
            talk.say_phrase("stop_confirmed")
            return None, None
        if choice in ("yes", "unclear"):
            talk.say_phrase("resume_yes" if choice == "yes" else "resume_unclear")
            return candidate, progress
        talk.say_phrase("resume_no")
        candidate.abandon()
        _note(f"途中のセッション {candidate.id} は別にしておきました。"
              f"続きから始めるには: python run.py --resume {candidate.id}")
        break
    return store.start(mode), None


RESUME_TRIES = 4


def _ask_resume(talk: Talk, answered: int) -> str:
    """"yes", "no", "stop" or "unclear". A hesitant reply (えーと, なんだっけ) is asked again,
    never taken for "no": "no" sets the earlier answers aside, so it has to be said."""
    talk.say_phrase("resume_offer", answered=answered)
    for attempt in range(RESUME_TRIES):
        verdict = talk.yes_no(talk.listen(YES_NO))
        if verdict is not None:
            return verdict
        if attempt + 1 < RESUME_TRIES:
            talk.say_phrase("resume_offer_again" if attempt % 2 else "confirm_not_understood")
    return "unclear"


def _resume_named(store: SessionStore, content: Content, matcher, ears: Ears, mouth: Mouth,
                  session_id: str) -> tuple[SessionRecord, Progress]:
    record = store.get(session_id)
    if record.is_finished:
        raise StoreError(f"セッション {record.id} はもう最後まで終わっています。まとめは python run.py report {record.id} で見られます。")
    if not record.progress_path.exists():
        record.restore()
    saved = record.load_progress()
    if not saved:
        raise StoreError(f"セッション {record.id} には、続きから始められるお答えが保存されていません。")
    try:
        progress = progress_from_saved(saved, content)
    except ValueError as err:
        record.set_aside_damaged()
        raise StoreError(f"セッション {record.id} の途中の記録が壊れていて、続きから始められません"
                         f"（{err}）。記録は {record.path / DAMAGED_FILE} に残してあります。") from None
    Talk(content, matcher, ears, mouth, TranscriptLog(record.log)).say_phrase("resume_yes")
    return record, progress


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
    from voicecheck.evaluate import manifest_has_audio, run_evaluate
    content = load_content(settings.prompts_dir)
    matcher = _load_matcher(content)
    transcribe, engine = None, None
    if manifest_has_audio(args.manifest):
        from voicecheck.recognizers import select_recognizer
        from voicecheck.speech_io import transcribe_file
        recognizer = select_recognizer(settings)
        engine = recognizer.name
        asked = {q.id: q.text for q in content.questions}

        def transcribe(path, qid):
            return transcribe_file(path, qid, recognizer, matcher.phrases(qid), asked.get(qid, ""))
    return run_evaluate(args.manifest, as_json=args.json, matcher=matcher, transcribe=transcribe, engine=engine,
                        out=sys.stdout)
