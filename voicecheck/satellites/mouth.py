"""A room's mouth: the product voice, played on the satellite's speaker.

Each phrase is synthesised piece by piece (voicecheck.voices.base.phrase_pieces) and each piece
is sent as soon as it is ready, so the satellite starts speaking after the first short piece,
not after the whole sentence. `say` returns when the satellite has finished playing: at its
`played` notice, or, for satellites that never send one, when the audio's own length has
passed. Until then the room's microphone is ignored, so the device never hears itself as an
answer.
"""
from __future__ import annotations

import time

from voicecheck.satellites.channel import RoomChannel
from voicecheck.satellites.pcm import encode
from voicecheck.voices.base import phrase_pieces

PLAYED_GRACE_S = 15.0  # how late a satellite that sends `played` may be before we go on anyway
NO_PLAYED_GRACE_S = 0.25  # network and buffer delay allowed to a satellite that never sends it


class RoomMouth:
    def __init__(self, channel: RoomChannel, voice, generation: int, pause_s: float = 0.4) -> None:
        self.channel = channel
        self.voice = voice
        self.generation = generation
        self.pause_s = pause_s
        self.first_audio_at: list[float] = []  # monotonic time each phrase's first audio left (bench)

    def say(self, text: str, *, slow: bool = False) -> None:
        pieces = phrase_pieces(text)
        if not pieces:
            return
        channel, generation = self.channel, self.generation
        connection = channel.connection
        if connection is None:
            channel.check(generation)  # raises RoomOffline (or ServerStopping)
        fmt = connection.info.snd_format
        samples, rate = self.voice.synthesize(pieces[0], slow=slow)
        played_before = channel.begin_speaking()
        try:
            channel.call(generation, lambda c: c.speech_start(fmt))
            started = time.monotonic()
            self.first_audio_at.append(started)
            total_s = 0.0
            for index in range(len(pieces)):
                if index:
                    samples, rate = self.voice.synthesize(pieces[index], slow=slow)
                pcm = encode(samples, rate, fmt)
                offset = total_s
                channel.call(generation, lambda c, pcm=pcm, offset=offset: c.speech_audio(pcm, fmt, offset))
                total_s += fmt.seconds(len(pcm))
            channel.call(generation, lambda c: c.speech_stop(total_s))
            ends = started + total_s
            grace = PLAYED_GRACE_S if channel.sends_played else NO_PLAYED_GRACE_S
            channel.wait_played(generation, played_before, ends + grace)
        finally:
            channel.end_speaking()
        if self.pause_s > 0:
            time.sleep(self.pause_s)
