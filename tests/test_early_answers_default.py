"""early_answers is on by default, and needs the one-stream sound card with the echo canceller:
where either is missing, the session still runs, with the microphone opening once the device has
asked, and the caregiver is told why (voicecheck.app.open_io, voicecheck.duplex)."""
from __future__ import annotations

import argparse

import pytest

from voicecheck import app, speech_io
from voicecheck.audio import AudioDeviceError
from voicecheck.duplex import DuplexAudio
from voicecheck.settings import Settings


def test_early_answers_is_on_by_default():
    assert Settings().early_answers is True


class _Voice:
    name = "fake"
    rate = 16_000

    def synthesize(self, text, speed=1.0):  # pragma: no cover - nothing is said here
        raise AssertionError("nothing is said while the devices are opened")


def test_without_the_one_stream_card_the_microphone_opens_after_asking(monkeypatch, capsys):
    import voicecheck.recognizers as recognizers
    import voicecheck.voices as voices

    monkeypatch.setattr(speech_io, "microphone_available", lambda settings: (True, ""))
    monkeypatch.setattr(recognizers, "select_recognizer", lambda settings: object())
    monkeypatch.setattr(voices, "select_voice", lambda settings: _Voice())

    def no_card(*args, **kwargs):
        raise AudioDeviceError("マイク「usb」とスピーカー「hdmi」を 16 kHz で一緒に開けません")

    monkeypatch.setattr(speech_io, "open_live_audio", no_card)
    monkeypatch.setattr(speech_io, "find_device", lambda spec, kind: None)  # a microphone and a speaker are there
    mode, ears, mouth = app.open_io("live", argparse.Namespace(), Settings())
    assert mode == "live" and isinstance(ears, speech_io.MicrophoneEars)
    note = capsys.readouterr().err
    assert "質問を読み終えてから聞き取ります" in note and "16 kHz" in note


def test_the_one_stream_card_is_not_opened_without_the_echo_canceller(monkeypatch):
    import voicecheck.duplex_stream as duplex_stream
    import voicecheck.listening.echo_cancel as echo_cancel

    monkeypatch.setattr(echo_cancel, "echo_canceller", lambda: None)
    opened = []
    monkeypatch.setattr(duplex_stream, "DuplexStream", lambda *a: opened.append(a))
    with pytest.raises(AudioDeviceError, match="pywebrtc-audio"):
        DuplexAudio(Settings()).start()
    assert opened == []
