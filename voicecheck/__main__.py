from voicecheck.cli import main

raise SystemExit(main())
