"""voicecheck: an offline Japanese voice skill about the knee suddenly giving way (膝折れ)."""

__version__ = "0.1.0"
