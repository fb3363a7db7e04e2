"""Real people's Japanese recordings for the bench: gathered from public repositories, never committed.

    .venv/bin/python bench/real_clips.py          gather what can be found, say what is missing

`bench/corpora/real_clips.tsv` lists each recording by repository, commit, path and SHA-256,
with its licence, a note on the speaker, what is said (the source's own transcript or word
list), and how the bench labels it against one of our questions (`question`, `expected`; the
same file may appear on several lines, one per question). Nothing of the recordings is in
this repository: this script copies them, converted to 16 kHz mono WAV, into bench/out/real/
from

  1. a folder named by VOICECHECK_REAL_CLIPS (files laid out as <owner>+<name>/<path>), or
  2. the search tool's fetch mirror (VOICECHECK_FETCH_MIRROR, default /work/.mirror), where each
     repository is a git directory: the file is read at the listed commit.

A file whose SHA-256 differs from the manifest is not used. The bench reports real recordings
apart from the synthetic voices and says plainly when none are present.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MANIFEST = ROOT / "bench" / "corpora" / "real_clips.tsv"
OUT_DIR = ROOT / "bench" / "out" / "real"
FOLDER_ENV = "VOICECHECK_REAL_CLIPS"
MIRROR_ENV = "VOICECHECK_FETCH_MIRROR"
DEFAULT_MIRROR = Path("/work/.mirror")
LEAD_S = TAIL_S = 0.5  # silence added around each recording, as around the synthetic clips
COLUMNS = ("id", "repo", "commit", "path", "sha256", "licence", "speaker", "said", "question", "expected")


@dataclass(frozen=True)
class RealClip:
    line: int
    id: str
    repo: str  # owner/name
    commit: str
    path: str
    sha256: str
    licence: str
    speaker: str
    said: str
    question: str
    expected: str

    @property
    def wav(self) -> Path:
        return OUT_DIR / f"{self.id}.wav"

    @property
    def source(self) -> str:
        """The repository as a short label for the report (owner/name)."""
        return self.repo


def read_manifest(path: Path = MANIFEST) -> list[RealClip]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ValueError(f"{path}: the header must be {' / '.join(COLUMNS)}")
    return [RealClip(n, *cells) for n, cells in enumerate(rows[1:], start=2) if len(cells) == len(COLUMNS)]


def _mirror_git_dir(repo: str) -> Path | None:
    base = Path(os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR) / repo.replace("/", "+", 1) / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "HEAD").is_file():
            return candidate
    return None


def read_source(clip: RealClip) -> bytes | None:
    """The recording's bytes from the folder or the mirror, or None when not found."""
    folder = os.environ.get(FOLDER_ENV)
    if folder:
        candidate = Path(folder) / clip.repo.replace("/", "+", 1) / clip.path
        if candidate.is_file():
            return candidate.read_bytes()
    git_dir = _mirror_git_dir(clip.repo)
    if git_dir is None:
        return None
    try:
        return subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{clip.commit}:{clip.path}"],
                              capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def convert(blob: bytes):
    """Any format libsndfile reads (WAV, OGG, FLAC) → 16 kHz mono float32 with silence around it."""
    import numpy as np
    import soundfile

    from voicecheck.audio import SAMPLE_RATE, resample, to_mono

    data, rate = soundfile.read(io.BytesIO(blob), dtype="float32")
    samples = resample(to_mono(data).astype(np.float32), rate, SAMPLE_RATE)
    pad = np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32)
    return np.concatenate([pad, samples, np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32)])


def gather(clips: list[RealClip] | None = None) -> tuple[list[RealClip], dict[str, str]]:
    """Make bench/out/real/<id>.wav for every clip that can be found; returns (present, id → why not)."""
    from voicecheck.audio import write_wav

    clips = read_manifest() if clips is None else clips
    present, missing = [], {}
    done: set[str] = set()
    for clip in clips:
        if clip.id in done or clip.wav.is_file():
            present.append(clip)
            done.add(clip.id)
            continue
        blob = read_source(clip)
        if blob is None:
            missing[clip.id] = f"{clip.repo}:{clip.path} not found (set {FOLDER_ENV} or fetch the repository)"
            continue
        digest = hashlib.sha256(blob).hexdigest()
        if digest != clip.sha256:
            missing[clip.id] = f"{clip.repo}:{clip.path} differs from the manifest (sha256 {digest[:12]}…)"
            continue
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        write_wav(clip.wav, convert(blob))
        present.append(clip)
        done.add(clip.id)
    return present, missing


def licences(clips: list[RealClip]) -> dict[str, tuple[str, int]]:
    """Repository → (licence, number of manifest lines), for the report."""
    out: dict[str, tuple[str, int]] = {}
    for clip in clips:
        licence, count = out.get(clip.repo, (clip.licence, 0))
        out[clip.repo] = (licence, count + 1)
    return out


def main() -> int:
    clips = read_manifest()
    present, missing = gather(clips)
    files = len({c.id for c in present})
    print(f"real recordings: {len(present)} of {len(clips)} manifest lines present ({files} files) in {OUT_DIR}")
    if missing:
        print(f"{len(missing)} missing:")
        for clip_id, why in sorted(missing.items()):
            print(f"  {clip_id}: {why}")
    for repo, (licence, count) in licences(clips).items():
        print(f"  {repo}: {count} lines, {licence}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
