from __future__ import annotations

from pathlib import Path

import pytest

from voicecheck.content import Content, load_content

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "prompts" / "ja"


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(PROMPTS)


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path, monkeypatch):
    # No test may write sessions into a real user's data folder.
    monkeypatch.setenv("VOICECHECK_DATA_DIR", str(tmp_path / "data"))
