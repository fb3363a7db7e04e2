"""Speech recognisers behind one small interface."""
from __future__ import annotations

from typing import TYPE_CHECKING

from voicecheck.models import ENGINE_MODELS, ModelError, install_hint, model_status, require_model
from voicecheck.recognizers.base import Recognizer, RecognizerError

if TYPE_CHECKING:
    from voicecheck.settings import Settings

ENGINES = ("vosk", "whisper", "auto")

__all__ = ["AUTO_ORDER", "ENGINES", "ENGINE_FACTS", "Recognizer", "RecognizerError", "choose_engine",
           "load_recognizer", "select_recognizer"]


# `auto` prefers the engine whose Japanese accuracy has been measured on the bench (voices and
# answers not used for tuning; README "Benchmarks"). Vosk's Japanese model cannot be downloaded on
# the development machines, so nothing is known of its accuracy here: it comes second until the
# bench has measured it. What is known of each engine, for `check` and the README:
ENGINE_FACTS = {
    "whisper": "日本語の聞き取りの精度を、製品の声以外の声と雑音で測ってあります（README の「Benchmarks」）。",
    "vosk": "日本語の聞き取りの精度はまだ測っていません（開発機では日本語モデルを入手できないため）。"
            "軽く動きますが、精度はわかりません。",
}
AUTO_ORDER = ("whisper", "vosk")


def choose_engine(settings: "Settings") -> str:
    """The engine `settings.engine` stands for: auto picks the measured engine (Whisper) when its
    model is installed, else Vosk.

    Raises RecognizerError naming the model to install (and how) when nothing is usable.
    """
    engine = (settings.engine or "auto").strip().lower()
    if engine not in ENGINES:
        raise RecognizerError(f"Unknown speech engine '{settings.engine}'. Choose one of: {', '.join(ENGINES)}.")
    if engine != "auto":
        return engine
    problems = []
    for candidate in AUTO_ORDER:
        status = model_status(ENGINE_MODELS[candidate], settings.models_dir)
        if status.ok:
            return candidate
        problems.append(status)
    damaged = [s for s in problems if s.state not in ("missing",)]
    detail = " ".join(f"({s.describe()})" for s in damaged)
    raise RecognizerError(
        "No speech recognition model is installed. "
        f"{install_hint(ENGINE_MODELS['whisper'])} "
        f"On a small computer you can use Vosk instead: `python run.py models fetch {ENGINE_MODELS['vosk']}`. "
        + detail
    )


def open_question_ids(settings: "Settings") -> frozenset[str]:
    """Ids of the questions answered in free words (decoded without a grammar or prompt)."""
    from voicecheck.content import ContentError, load_content

    try:
        content = load_content(settings.prompts_dir)
    except (ContentError, OSError):
        return frozenset()  # the session reports broken content itself
    return frozenset(q.id for q in content.questions if q.kind == "free_text")


def load_recognizer(engine: str, settings: "Settings") -> Recognizer:
    """Load the recogniser of one engine ("vosk" or "whisper") with its checked model."""
    try:
        model_dir = require_model(ENGINE_MODELS[engine], settings.models_dir)
    except ModelError as error:
        other = "whisper" if engine == "vosk" else "vosk"
        raise RecognizerError(f"{error} Or choose the other engine with --engine {other}.") from None
    if engine == "vosk":
        from voicecheck.recognizers.vosk import VoskRecognizer

        return VoskRecognizer(model_dir, open_questions=open_question_ids(settings))
    from voicecheck.recognizers.whisper import WhisperRecognizer

    return WhisperRecognizer(model_dir, open_questions=open_question_ids(settings))


def select_recognizer(settings: "Settings") -> Recognizer:
    """The recogniser for `--engine vosk|whisper|auto`; RecognizerError with a clear message otherwise."""
    return load_recognizer(choose_engine(settings), settings)
