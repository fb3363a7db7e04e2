"""The listening layer: from a stream of 30 ms frames to answers (see LISTENING in the README).

Sources of frames: a microphone (voicecheck.audio.MicrophoneStream), a Wyoming audio stream,
a WAV file (frames_of). Stages, one module each:
  frames.py      the frame format and cutting blocks into frames
  vad.py         is there a voice in the frame (Silero VAD, webrtcvad)
  background.py  how loud the steady background (the TV) is
  detector.py    is it the person speaking: voice + above the background + above the echo
  endpointer.py  where an answer starts and ends
"""
