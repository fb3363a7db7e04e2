"""voicecheck: an offline Japanese voice skill about the knee suddenly giving way (膝折れ)."""

import os

__version__ = "0.1.0"

# onnxruntime (inside pyopenjtalk-plus) would otherwise start usage telemetry that looks up hosts
# on the network; health answers stay on the device and so does everything else.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
