"""Home voice satellites over the Wyoming protocol: one voicecheck server, many rooms.

`python run.py serve` connects to each configured satellite (a Raspberry Pi running
`wyoming-satellite`, say) and runs a whole session per room at the same time. A satellite is
just one more pair of ears and mouth: the same questionnaire, read-back and coach run on it.
Read in this order:

    config            the [satellites] / [speech_services] tables and the serve options
    events            Wyoming events on the wire, read with size limits
    pcm               PCM audio formats ↔ the 16 kHz float frames voicecheck listens to
    connection        one connection to a satellite (the controller's side of the protocol)
    channel           the bridge between the asyncio network side and a room's session thread
    ears, mouth       a room's Ears and Mouth (voicecheck.interfaces)
    recognition_queue one recogniser shared fairly by every room
    shared_engines    content, matcher, voice and recogniser, loaded once
    phrases           the few phrases only a room says (prompts/<lang>/satellites.toml)
    scheduler         when a session starts: wake word, daily check-in, at once
    room_sessions     a room's thread: runs sessions into data_dir/rooms/<name>/, resumes after drops
    room              a room: connection kept up with back-off, daily check-ins, its session thread
    speech_services   Wyoming tts + asr for Home Assistant
    server            the `serve` command that puts it all together
"""
