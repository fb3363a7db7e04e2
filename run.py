#!/usr/bin/env python3
"""Entry point: `python run.py --help`. Everything happens in voicecheck.cli."""
from voicecheck.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
