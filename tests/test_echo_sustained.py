"""The echo gate behind a working canceller: a sustained voice under the device's voice is let
through at the canceller's learnt residue, short onset bursts of the device's own voice are not,
and the coupling is not learnt from the silence before a late echo arrives."""
from __future__ import annotations

from voicecheck.listening.echo import EchoGate

DEVICE_DB = -14.0  # the device's voice in the file, every frame
RESIDUE_DB = -44.0  # what the canceller leaves of it, usually (coupling −30 dB)


def gate_behind_canceller(learnt_frames: int = 300) -> EchoGate:
    gate = EchoGate(delay_s=0.3, coupling_floor_db=-12.0)
    gate.exact = True
    for index in range(learnt_frames):
        gate._reference[index] = DEVICE_DB
        gate.learn(index, RESIDUE_DB)
    return gate


def heard_as_person(gate: EchoGate, start: int, levels: list[float], margin_db: float = 6.0) -> list[bool]:
    """Frame by frame as the LiveListener does it: the gate's echo level, then the detector's level
    test (the voice detector is taken to say "voice" every frame), then the gate learns the frame."""
    verdicts = []
    for offset, level in enumerate(levels):
        index = start + offset
        gate._reference[index] = DEVICE_DB
        echo = gate.echo_db(index)
        verdicts.append(echo is None or level >= echo + margin_db)
        gate.learn(index, level)
    return verdicts


def test_the_residue_is_learnt_behind_the_canceller():
    gate = gate_behind_canceller()
    assert gate.learnt and abs(gate.coupling_db - (RESIDUE_DB - DEVICE_DB)) < 0.5
    # the floor still rules a single frame: the device's voice 12 dB under the file
    assert abs(gate.echo_db(300) - (DEVICE_DB - 12.0)) < 0.5


def test_a_sustained_voice_under_the_device_is_heard():
    gate = gate_behind_canceller()
    person = [-28.0] * 20  # 14 dB under the device's file level: under the floor's reach
    verdicts = heard_as_person(gate, 300, person)
    assert not any(verdicts[:gate.sustained_frames])  # the first frames could be a burst
    assert all(verdicts[gate.sustained_frames:])


def test_onset_bursts_of_the_device_voice_are_not_heard():
    """AEC3 lets the device's voice through at loud onsets for a few frames, 10–15 dB over its
    usual residue (here: −29 dBFS for 3 frames against −44), then it is gone again."""
    gate = gate_behind_canceller()
    index = 300
    for _ in range(10):
        burst = [-29.0] * 3 + [RESIDUE_DB] * 5
        assert not any(heard_as_person(gate, index, burst))
        index += len(burst)


def test_without_a_canceller_the_floor_and_the_run_change_nothing():
    """The canceller not working (the coupling learnt near the file's level): the run never lowers
    the gate under the learnt coupling."""
    gate = EchoGate(delay_s=0.3, coupling_floor_db=-12.0)
    gate.exact = True
    for index in range(120):
        gate._reference[index] = DEVICE_DB
        gate.learn(index, DEVICE_DB - 3.0)
    verdicts = heard_as_person(gate, 120, [-20.0] * 20)
    assert not any(verdicts)


def test_the_coupling_is_not_learnt_before_a_late_echo_arrives():
    """The device starts talking; its echo arrives only 0.9 s later (within the gate's 1.2 s window).
    The silent frames before it must not teach the gate a coupling 40 dB too low: the moment the gate
    says it has learnt, the coupling is the echo's."""
    gate = EchoGate(delay_s=1.2)
    gate.exact = True
    arrives = round(0.9 / 0.03)
    for index in range(120):
        gate._reference[index] = DEVICE_DB
        gate.learn(index, -62.0 if index < arrives else DEVICE_DB - 6.0)
        if gate.learnt:
            break
    assert gate.learnt and gate.coupling_db > -10.0
