"""Ears and Mouths made of real audio: microphone and speaker, or WAV files for replay.

These are the only classes the conversation sees of the speech edges (through the `Ears`
and `Mouth` protocols of voicecheck.interfaces).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Iterator, Sequence

import numpy as np

from voicecheck.audio import (
    MAX_NO_ANSWER_TIMEOUT_S,
    AudioDeviceError,
    EndpointConfig,
    MicrophoneStream,
    SpeechError,
    capture_utterance,
    find_device,
    microphone_problem,
    play,
    read_wav,
    resample,
    speech_bounds,
    write_wav,
)
from voicecheck.interfaces import Clock, Heard, ListenContext, RealClock
from voicecheck.listening.early_end import PauseHearings
from voicecheck.recognizers.base import Recognizer
from voicecheck.voices.base import Voice, phrase_pieces, without_leading_silence

WAV_MOUTH_RATE = 22_050  # plenty for speech, half the size of the voices' 44.1/48 kHz


def endpoint_config(settings, timeout_s: float | None = None) -> EndpointConfig:
    """Endpointing for one turn: the turn's own timeout, else the setting, capped at ten minutes."""
    timeout = timeout_s if timeout_s and timeout_s > 0 else settings.no_answer_timeout_s
    timeout = min(float(timeout), MAX_NO_ANSWER_TIMEOUT_S)
    end_silence = settings.end_silence_s
    return EndpointConfig(no_answer_timeout_s=timeout, end_silence_s=float(end_silence),
                          end_silence_after_short_s=max(float(end_silence), EndpointConfig.end_silence_after_short_s))


def _after_first_frame(frames: Iterable[np.ndarray], then: Callable[[], None]) -> Iterator[np.ndarray]:
    """The frames, calling `then` as soon as the first one has arrived."""
    first = True
    for frame in frames:
        if first:
            first = False
            then()
        yield frame


class MicrophoneEars:
    """Listens on the microphone: waits for speech, decodes while it is spoken, stops after a pause.

    `open_frames` replaces the microphone (a context manager yielding 16 kHz 30 ms frames);
    tests use it to run the whole live path on recorded sound.
    """

    def __init__(self, settings, recognizer: Recognizer, audio_dir: Path | None = None,
                 open_frames: Callable[[], ContextManager[Iterable[np.ndarray]]] | None = None,
                 tone: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self._tone = tone  # the turn tone, played when listening starts (settings.turn_tone)
        self.recognizer = recognizer
        self.audio_dir = Path(audio_dir) if audio_dir is not None and settings.keep_audio else None
        self._open_frames = open_frames or (lambda: MicrophoneStream(settings.microphone))
        # One detector for the whole session: what it learnt of the room's background (the TV)
        # in one turn is known at the start of the next.
        from voicecheck.listening.detector import SpeechDetector
        self.detector = SpeechDetector()
        if open_frames is None:
            find_device(settings.microphone, "input")  # fail now, clearly, rather than at the first question
        self.turn = 0
        # Answers are heard in their pauses while the microphone keeps listening.
        self._hearings = PauseHearings(settings)

    def listen(self, context: ListenContext) -> Heard:
        self.turn += 1
        config = endpoint_config(self.settings, context.timeout_s)
        stream = self.recognizer.start(context)
        with self._open_frames() as frames:
            # The tone sounds once the microphone delivers sound, not merely once it is open: through
            # ALSA → PulseAudio the first frame of a session came 1.4 s after opening, and a quick
            # answer right after the tone lost its start (「いいえ」 heard as 「いえ」).
            if self._tone is not None and getattr(self.settings, "turn_tone", False):
                frames = _after_first_frame(frames, self._tone)
            early = self._hearings.for_turn(self.recognizer, context)
            utterance = capture_utterance(frames, config, on_answer_frame=stream.accept, vad=self.detector,
                                          after_frame=early.step)
        timings = {"waited": utterance.waited_s}
        if utterance.timed_out:
            return Heard(text="", timed_out=True, timings=timings)
        heard = early.heard() or stream.finish()
        timings.update(heard.timings)
        timings.update({"speech": utterance.speech_s, "endpoint": utterance.trailing_silence_s,
                        "early_end": 1.0 if utterance.ended_early else 0.0, "hearings": float(early.hearings)})
        source = None
        if self.audio_dir is not None:
            name = f"{self.turn:03d}-{context.question_id or 'answer'}.wav"
            source = str(write_wav(self.audio_dir / name, utterance.samples))
        return replace(heard, timings=timings, source=source)


def microphone_lost(stopped: Exception) -> AudioDeviceError:
    """The message when the session's sound stream ends or stalls (LiveListener's SourceStopped)."""
    return AudioDeviceError(f"マイクの音が届かなくなりました（{stopped}）。マイクのつなぎ方を確かめてください。")


class LiveEars:
    """Listens through a `DuplexAudio` that runs for the whole session (the live mode).

    Unlike `MicrophoneEars`, the microphone never closes: an answer given while the device is
    still asking is kept (voicecheck.listening.live), the device's own voice is told apart by
    its echo, and a soft tone marks the turn when settings.turn_tone is on.
    """

    def __init__(self, settings, recognizer: Recognizer, duplex, audio_dir: Path | None = None) -> None:
        self.settings = settings
        self.recognizer = recognizer
        self.duplex = duplex
        self.audio_dir = Path(audio_dir) if audio_dir is not None and settings.keep_audio else None
        self.turn = 0
        # As with the microphone alone: the answer is heard in its pauses, so a clear one is
        # replied to soon and nothing is decoded twice (voicecheck.listening.early_end).
        self._hearings = PauseHearings(settings)
        self._question_heard_out: str | None = None  # the last turn's question, when its answer ended in a pause

    def listen(self, context: ListenContext) -> Heard:
        from voicecheck.listening.live import EARLIEST_ANSWER_S, SourceStopped

        self.turn += 1
        config = endpoint_config(self.settings, context.timeout_s)
        tone = self.duplex.play_tone if self.settings.turn_tone else None
        early = self._hearings.for_turn(self.recognizer, context)
        self.duplex.interrupted.clear()  # the turn begins: the device may speak again after it
        try:
            result = self.duplex.listener.listen(config, look_back=self.settings.early_answers, on_waiting=tone,
                                                 after_frame=early.step,
                                                 earliest_answer_s=EARLIEST_ANSWER_S if context.replies_to_prompt else None)
        except SourceStopped as stopped:
            raise microphone_lost(stopped) from None
        self._question_heard_out = context.question_id if result.utterance.ended_in_a_pause else None
        return self._heard(result, early, context)

    def rest_of_answer(self, context: ListenContext, meanwhile: Callable[[], None] = lambda: None) -> Heard | None:
        """After the answer to `context`'s question ended in a pause (early on a complete first part,
        or after the full silence): says `meanwhile` (the device's reply to it), stopping it if
        the person goes on, then returns the whole answer when they went on with it, else None
        (voicecheck.listening.rest_of_answer). Right after any other turn, only says `meanwhile`."""
        from voicecheck.listening.live import SourceStopped

        if context.question_id is None or context.question_id != self._question_heard_out:
            meanwhile()
            return None
        self._question_heard_out = None
        listener = self.duplex.listener
        config = endpoint_config(self.settings, context.timeout_s)
        early = self._hearings.for_turn(self.recognizer, context)
        listener.watch_for_rest(config)
        try:
            meanwhile()
            result = listener.rest_of_answer(config, after_frame=early.step)
        except SourceStopped as stopped:
            raise microphone_lost(stopped) from None
        finally:
            self.duplex.interrupted.clear()  # the device replies to the whole answer (or goes on)
        if result is None:
            return None
        self._question_heard_out = context.question_id if result.utterance.ended_in_a_pause else None
        heard = self._heard(result, early, context)
        return replace(heard, timings={**heard.timings, "whole_after_reply": 1.0})

    def _heard(self, result, early, context: ListenContext) -> Heard:
        """What the turn's answer says: the hearing made in its last pause, else a decode of it."""
        utterance = result.utterance
        timings = {"waited": utterance.waited_s}
        if result.sound_lost:
            # Sound never arrived for a while (a hiccup of the sound card): what was heard may be
            # half an answer (「はい、でも……」 as 「はい」). Asked again, not guessed.
            return Heard(text="", sound_lost=True, timings={**timings, "speech": utterance.speech_s})
        if utterance.timed_out:
            # Speech heard out but not taken (begun before the prompt could be heard) is kept in the
            # record: a turn that heard "nothing" after someone spoke can then be looked into.
            # What the microphone heard meanwhile (levels only) says why nothing was taken.
            return Heard(text="", timed_out=True, timings={**timings, "went_on": result.went_on, **(result.not_heard or {})})
        heard = early.heard()  # None for an answer found in the look-back: it was never heard in a pause
        if heard is None:
            stream = self.recognizer.start(context)
            stream.accept(utterance.samples)
            heard = stream.finish()
        timings.update(heard.timings)
        timings.update({"speech": utterance.speech_s, "endpoint": utterance.trailing_silence_s,
                        "early": 1.0 if result.early else 0.0, "early_end": 1.0 if utterance.ended_early else 0.0,
                        "barged_in": 1.0 if result.barged_in else 0.0, "went_on": result.went_on,
                        "hearings": float(early.hearings)})
        source = None
        if self.audio_dir is not None:
            name = f"{self.turn:03d}-{context.question_id or 'answer'}.wav"
            source = str(write_wav(self.audio_dir / name, utterance.samples))
        return replace(heard, timings=timings, source=source)


def answer_openers(content) -> frozenset[str]:
    """The phrases after which what the person says may already be the answer: questions and hints."""
    return frozenset(t for q in content.questions for t in (q.text, q.hint) if t)


def open_live_audio(settings, voice: Voice, recognizer: Recognizer, content, audio_dir: Path | None = None):
    """Ears and mouth sharing one microphone stream and the speaker (the live mode with
    early_answers). AudioDeviceError when the sound card cannot run both as one stream with the
    echo canceller (the caller then listens only once the device has asked)."""
    from voicecheck.duplex import DuplexAudio

    find_device(settings.microphone, "input")  # fail now, clearly
    find_device(settings.speaker, "output")
    duplex = DuplexAudio(settings).start()
    import atexit

    atexit.register(duplex.close)  # the echo canceller's thread ends before the interpreter does
    openers = answer_openers(content)
    mouth = SpeakerMouth(voice, settings, player=duplex.play,
                         on_phrase=lambda text: duplex.listener.phrase_starts(text in openers),
                         interrupted=duplex.interrupted.is_set)
    return LiveEars(settings, recognizer, duplex, audio_dir), mouth


class ReplayEars:
    """Takes each answer from the next WAV file of a folder (sorted by name); None when they run out.

    A file without speech counts as no answer (timed_out), like silence at the microphone.
    """

    def __init__(self, directory: Path | str, recognizer: Recognizer) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SpeechError(f"The replay folder {self.directory} does not exist.")
        self.files = sorted((p for p in self.directory.iterdir() if p.is_file() and p.suffix.lower() == ".wav"),
                            key=lambda p: p.name)
        if not self.files:
            raise SpeechError(f"The replay folder {self.directory} holds no .wav files.")
        self.recognizer = recognizer
        self.position = 0

    @property
    def remaining(self) -> int:
        return len(self.files) - self.position

    def listen(self, context: ListenContext) -> Heard | None:
        if self.position >= len(self.files):
            return None
        path = self.files[self.position]
        self.position += 1
        samples = read_wav(path)
        if speech_bounds(samples) is None:
            return Heard(text="", timed_out=True, source=str(path))
        heard = self.recognizer.transcribe(samples, context)
        return replace(heard, source=str(path))


class SpeakerMouth:
    """Speaks through the loudspeaker, then leaves a short pause (settings.pause_s).

    `on_phrase(text)` is told before each phrase is spoken (the live listener uses it to know
    where a question begins). `interrupted()` true means the person has started answering over
    the device (barge-in): the phrase stops after the piece playing, and nothing more is said
    until the turn (LiveEars clears it)."""

    def __init__(self, voice: Voice, settings, clock: Clock | None = None,
                 player: Callable[[np.ndarray, int], None] | None = None,
                 on_phrase: Callable[[str], None] | None = None,
                 interrupted: Callable[[], bool] | None = None) -> None:
        self._interrupted = interrupted or (lambda: False)
        self.voice = voice
        self.settings = settings
        self.clock = clock or RealClock()
        if player is None:
            find_device(settings.speaker, "output")  # fail now, clearly
            player = lambda samples, rate: play(samples, rate, settings.speaker)  # noqa: E731
        self._play = player
        self._on_phrase = on_phrase
        # One synthesis thread: the next piece is made while the current one plays, and phrases
        # the device will probably say next are made ahead (`prepare`) while it waits for an answer.
        self._synthesiser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicecheck-voice")

    def prepare(self, texts: Iterable[str]) -> None:
        """Synthesise the first piece of each text in the background (the voice caches it), so the
        reply to an answer starts at once: 「『いいえ』ですね。」 is ready before 「いいえ」 is said."""
        for text in texts:
            pieces = phrase_pieces(text)
            if pieces:
                self._synthesiser.submit(self.voice.synthesize, pieces[0])

    def tone(self) -> None:
        """The turn tone: a short soft sound that says "your turn" (voicecheck.duplex.turn_tone)."""
        from voicecheck.duplex import TONE_RATE, turn_tone

        self._play(turn_tone(self.settings.volume), TONE_RATE)

    def say(self, text: str, *, slow: bool = False) -> None:
        if self._interrupted():
            return  # the person has the floor
        if self._on_phrase is not None:
            self._on_phrase(text)
        # Piece by piece: the next piece is synthesised while the current one plays, so the first
        # sound comes quickly even for a long sentence.
        pieces = phrase_pieces(text)
        if not pieces:
            return
        pending = self._synthesiser.submit(self.voice.synthesize, pieces[0], slow=slow)
        first = True
        for following in [*pieces[1:], None]:
            samples, rate = pending.result()
            if following is not None:
                pending = self._synthesiser.submit(self.voice.synthesize, following, slow=slow)
            if first:  # the phrase starts with its first sound; between pieces the voice's pauses stay
                samples, first = without_leading_silence(samples, rate), False
            if self._interrupted():
                return
            self._play(samples, rate)
        if not self._interrupted():
            self.clock.sleep(self.settings.pause_s)


class WavMouth:
    """Writes each phrase as a numbered WAV file plus a line in `said.txt` (replay mode)."""

    def __init__(self, out_dir: Path | str, voice: Voice, pause_s: float = 0.0) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.voice = voice
        self.pause_s = pause_s  # silence appended to each file, as heard between phrases
        self.log_path = self.out_dir / "said.txt"
        self.said: list[str] = []
        self.files: list[Path] = []

    def say(self, text: str, *, slow: bool = False) -> None:
        samples, rate = self.voice.synthesize(text, slow=slow)
        samples = resample(samples, rate, WAV_MOUTH_RATE)
        if self.pause_s > 0:
            samples = np.concatenate([samples, np.zeros(int(self.pause_s * WAV_MOUTH_RATE), np.float32)])
        path = write_wav(self.out_dir / f"{len(self.files) + 1:03d}.wav", samples, WAV_MOUTH_RATE)
        self.files.append(path)
        self.said.append(text)
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"{path.name}\t{' '.join(text.split())}\n")


def microphone_available(settings) -> tuple[bool, str]:
    """(True, "") when a microphone is usable; else (False, one plain sentence saying why)."""
    problem = microphone_problem(settings.microphone)
    return (problem is None, problem or "")


def speaker_available(settings) -> tuple[bool, str]:
    """(True, "") when a speaker is usable; else (False, one plain sentence saying why)."""
    try:
        find_device(settings.speaker, "output")
    except AudioDeviceError as error:
        return False, str(error)
    return True, ""


def transcribe_file(path: Path, question_id: str, recognizer: Recognizer, phrases: Sequence[str],
                    asked: str = "") -> Heard:
    """What a recogniser hears in one sound file (for `evaluate` manifests with an audio column);
    `asked` is the question the recording answers."""
    samples = read_wav(path)
    if speech_bounds(samples) is None:
        return Heard(text="", timed_out=True, source=str(path))
    context = ListenContext(question_id=question_id, phrases=tuple(phrases), asked=asked)
    return replace(recognizer.transcribe(samples, context), source=str(path))
