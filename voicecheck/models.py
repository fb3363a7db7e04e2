"""Speech models: where they live, how they are fetched, and whether they are whole.

Models live in `models/<official name>/` (settings.models_dir). `python run.py models fetch`
installs them: from the folder named by VOICECHECK_MODEL_MIRROR when it holds a copy (an
offline install: the model is linked, or copied where links are not possible), else by
download. Every file is checked against the sha256 list below, copied into the project
because the lists it came from are not on a user's machine. A successful check leaves a
small stamp (file sizes and times) in `models/.verified/`, so later starts skip re-hashing
hundreds of megabytes unless a file changed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Mapping

from voicecheck.audio import SpeechError

MIRROR_ENV = "VOICECHECK_MODEL_MIRROR"
VOSK_JA = "vosk-model-small-ja-0.22"
WHISPER_BASE = "faster-whisper-base"


class ModelError(SpeechError):
    """A model is missing, partial, corrupt or cannot be fetched; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the official folder name
    engine: Literal["vosk", "whisper"]
    files: Mapping[str, str]  # path inside the model folder -> sha256
    source: str  # where it comes from, for people
    download_mb: int
    archive_url: str | None = None  # one zip holding the folder (Vosk)
    file_url: str | None = None  # one URL per file, "{path}" filled in (Hugging Face)
    fetched_by_default: bool = False  # `models fetch` without names installs it


# sha256 of the unpacked files of the official vosk-model-small-ja-0.22.zip.
_VOSK_JA_FILES = {
    "README": "258b3b4f34f943d317b0fbca0778cb2669a19e0df84bece557daac8f0c58d6fc",
    "am/final.mdl": "1df788e2c183f7fb2474c876b987e28ce40cb198db4b1c2dcf094d9b8e3d44e2",
    "conf/mfcc.conf": "cdb0d516e5b8886092f1d840c628107703a65b571dc3b16b888a9a3978958b96",
    "conf/model.conf": "d8d91d310a9659fed2d89f8ea4996af6163a43c3ab008cd278e4264120551712",
    "graph/disambig_tid.int": "af6cd4863c1951e2b0e61f687eac1cac03fc24993f839a9cefab643a83f3470e",
    "graph/Gr.fst": "4f75f879f5c96b3a5983f8aa1b2df6e4c6f05a845d332d7f2cf410a64f095011",
    "graph/HCLr.fst": "c0bd905b506cce18ee6a46d0a13d3c8a3310fc7b4a6b76dd99e924ed691cddf9",
    "graph/phones.txt": "a68f13d4d54a09c05326ec0610ceb2fee0ae59353546630926a44272b94581ea",
    "graph/phones/word_boundary.int": "da199d9c991e0e84681ddbb34627b915b26302d50a8fdaa23c51e2bc3a50b5c3",
    "graph/words.txt": "26f18f875e172b710740926eb1c2692c790a1fee68be5f314b1f8c99f9bf2fc6",
    "ivector/final.dubm": "ebae597e7674342d09ae0d73222260e5fbf0e3d352a3135168d1ca44189029c0",
    "ivector/final.ie": "71eb575f7d31721c09b1a82d58d8b5c233f73629129df864a30dba206bd25f66",
    "ivector/final.mat": "4daa60ee31233f147fcc3b17a559bff5112ada7c14fbb20266e6748bc6ba9684",
    "ivector/global_cmvn.stats": "5ce41441eaa105e0ab07e51ffb37a738a085a96aac3d9431a924de8dc7738ea7",
    "ivector/online_cmvn.conf": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "ivector/splice.conf": "9f0c5f7c82d18eaf25d8bce470efa9f7741f88411fe428774bc0a9bb69a24756",
}

# sha256 of the files of the Hugging Face repository Systran/faster-whisper-base.
_WHISPER_BASE_FILES = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}

REGISTRY: dict[str, ModelSpec] = {
    VOSK_JA: ModelSpec(
        name=VOSK_JA,
        engine="vosk",
        files=_VOSK_JA_FILES,
        source="the Vosk model site (alphacephei.com), Apache-2.0",
        download_mb=48,
        archive_url=f"https://alphacephei.com/vosk/models/{VOSK_JA}.zip",
        fetched_by_default=True,
    ),
    WHISPER_BASE: ModelSpec(
        name=WHISPER_BASE,
        engine="whisper",
        files=_WHISPER_BASE_FILES,
        source="Hugging Face, Systran/faster-whisper-base (OpenAI Whisper weights), MIT",
        download_mb=148,
        file_url="https://huggingface.co/Systran/faster-whisper-base/resolve/main/{path}",
        fetched_by_default=True,  # the engine `auto` prefers: the one with measured Japanese figures
    ),
}

ENGINE_MODELS = {"vosk": VOSK_JA, "whisper": WHISPER_BASE}


@dataclass(frozen=True)
class ModelStatus:
    name: str
    path: Path | None
    state: Literal["ok", "missing", "partial", "corrupt"]
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def describe(self) -> str:
        if self.state == "ok":
            return f"{self.name}: ok ({self.path})"
        if self.state == "missing":
            return f"{self.name}: not installed"
        shown = "; ".join(self.problems[:3]) + ("; …" if len(self.problems) > 3 else "")
        return f"{self.name}: {self.state} at {self.path} ({shown})"


def spec_for(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise ModelError(f"There is no speech model called '{name}'. Known models: {known}.") from None


def mirror_dir() -> Path | None:
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def install_hint(name: str) -> str:
    """One sentence telling a person how to get the model."""
    spec = spec_for(name)
    return (
        f"Install it with `python run.py models fetch {name}` (downloads about {spec.download_mb} MB from "
        f"{spec.source}), or put a folder named {name} in a local mirror folder and set "
        f"{MIRROR_ENV} to that folder."
    )


def candidate_dirs(name: str, models_dir: Path) -> list[Path]:
    """Where a model may be: the project's models folder first, then the mirror."""
    places = [Path(models_dir) / name]
    mirror = mirror_dir()
    if mirror is not None:
        places.append(mirror / name)
    return places


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _presence_problems(spec: ModelSpec, folder: Path) -> list[str]:
    return [f"{rel} is missing" for rel in spec.files if not (folder / rel).is_file()]


def _fingerprint(spec: ModelSpec, folder: Path) -> dict[str, list[int]]:
    prints = {}
    for rel in spec.files:
        info = (folder / rel).stat()
        prints[rel] = [info.st_size, info.st_mtime_ns]
    return prints


def _stamp_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / ".verified" / f"{name}.json"


def _read_stamp(models_dir: Path, spec: ModelSpec, folder: Path) -> bool:
    try:
        stamp = json.loads(_stamp_path(models_dir, spec.name).read_text(encoding="utf-8"))
        return stamp == {"folder": str(folder.resolve()), "files": _fingerprint(spec, folder)}
    except (OSError, ValueError):
        return False


def _write_stamp(models_dir: Path, spec: ModelSpec, folder: Path) -> None:
    path = _stamp_path(models_dir, spec.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = {"folder": str(folder.resolve()), "files": _fingerprint(spec, folder)}
        path.write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    except OSError:
        pass  # a read-only models folder only costs a re-check next time


def check_folder(spec: ModelSpec, folder: Path, full: bool = True) -> ModelStatus:
    """Check one folder against the spec: all files present, and (full) every sha256 right."""
    folder = Path(folder)
    if not folder.is_dir():
        return ModelStatus(spec.name, folder, "missing")
    missing = _presence_problems(spec, folder)
    if missing:
        state = "missing" if len(missing) == len(spec.files) else "partial"
        return ModelStatus(spec.name, folder, state, tuple(missing))
    if full:
        wrong = [f"{rel} has the wrong checksum" for rel, expected in spec.files.items()
                 if sha256_of(folder / rel) != expected]
        if wrong:
            return ModelStatus(spec.name, folder, "corrupt", tuple(wrong))
    return ModelStatus(spec.name, folder, "ok")


def model_status(name: str, models_dir: Path, full: bool = False) -> ModelStatus:
    """The state of a model where the program would load it from.

    The first place holding any of its files counts (the project folder, then the mirror).
    Without `full`, a model whose files are unchanged since its last full check is trusted;
    otherwise (or when they changed) every checksum is computed again.
    """
    spec = spec_for(name)
    for folder in candidate_dirs(name, models_dir):
        if not folder.exists():
            continue
        status = check_folder(spec, folder, full=False)
        if status.state == "missing":
            continue
        if status.state != "ok":
            return status
        if not full and _read_stamp(models_dir, spec, folder):
            return status
        status = check_folder(spec, folder, full=True)
        if status.ok:
            _write_stamp(models_dir, spec, folder)
        return status
    return ModelStatus(name, None, "missing")


def require_model(name: str, models_dir: Path) -> Path:
    """The folder of a usable model, or ModelError saying exactly what is wrong and what to do."""
    status = model_status(name, models_dir)
    if status.ok and status.path is not None:
        return status.path
    if status.state == "missing":
        raise ModelError(f"The speech model {name} is not installed. {install_hint(name)}")
    problems = "; ".join(status.problems[:3])
    raise ModelError(
        f"The speech model {name} at {status.path} is {status.state} ({problems}). "
        f"Remove that folder and run `python run.py models fetch {name}` again, or replace it with a good copy."
    )


# ---------------------------------------------------------------------------------------------
# Fetching

Progress = Callable[[str], None]


def _download(url: str, target: Path, progress: Progress | None, label: str) -> None:
    """Download url to target, reporting progress every tenth; partial files never keep the final name."""
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done, next_report = 0, 0.1
            while block := response.read(1 << 20):
                out.write(block)
                done += len(block)
                if progress and total and done / total >= next_report:
                    progress(f"  {label}: {done * 100 // total}% of {total // (1 << 20)} MB")
                    next_report += 0.1
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", None) or error
        raise ModelError(f"Could not download {url} ({reason}).") from None
    partial.replace(target)


def _safe_extract(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            root = into.resolve()
            for member in zipped.infolist():
                destination = (into / member.filename).resolve()
                if not destination.is_relative_to(root):
                    raise ModelError(f"The archive {archive.name} holds a file outside its folder: {member.filename}.")
            zipped.extractall(into)
    except zipfile.BadZipFile:
        raise ModelError(f"The downloaded archive {archive.name} is damaged.") from None


def _model_root_in(folder: Path, spec: ModelSpec) -> Path | None:
    """The folder inside an unpacked archive that holds the model's files."""
    first = next(iter(spec.files))
    for candidate in [folder / spec.name, folder, *[p for p in folder.iterdir() if p.is_dir()]]:
        if (candidate / first).is_file():
            return candidate
    return None


def _remove(path: Path) -> None:
    """Remove a model folder, or only the link when it is a link to a mirror."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _replace_folder(new: Path, destination: Path) -> None:
    _remove(destination)
    new.replace(destination)


def _install_from_mirror(spec: ModelSpec, source: Path, models_dir: Path) -> Path:
    status = check_folder(spec, source, full=True)
    if not status.ok:
        raise ModelError(
            f"The mirror copy of {spec.name} at {source} is {status.state} ({'; '.join(status.problems[:3])})."
        )
    destination = Path(models_dir) / spec.name
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.resolve() == source.resolve():
        return destination
    staging = Path(models_dir) / f".{spec.name}.linking"
    _remove(staging)  # leftovers of an interrupted run
    try:
        staging.symlink_to(source.resolve(), target_is_directory=True)
    except OSError:  # no symlinks here (Windows without rights, some file systems): copy instead
        shutil.copytree(source, staging)
    _replace_folder(staging, destination)
    return destination


def _install_by_download(spec: ModelSpec, models_dir: Path, progress: Progress | None) -> Path:
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{spec.name}.", dir=models_dir) as work:
        work_dir = Path(work)
        if spec.archive_url:
            archive = work_dir / f"{spec.name}.zip"
            _download(spec.archive_url, archive, progress, spec.name)
            unpacked = work_dir / "unpacked"
            unpacked.mkdir()
            _safe_extract(archive, unpacked)
            archive.unlink()
            root = _model_root_in(unpacked, spec)
            if root is None:
                raise ModelError(f"The archive of {spec.name} does not hold the expected model files.")
        elif spec.file_url:
            root = work_dir / spec.name
            for rel in spec.files:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                _download(spec.file_url.format(path=rel), root / rel, progress, f"{spec.name}/{rel}")
        else:
            raise ModelError(f"{spec.name} has no download address; install it from a mirror.")
        status = check_folder(spec, root, full=True)
        if not status.ok:
            raise ModelError(
                f"The downloaded {spec.name} is {status.state} ({'; '.join(status.problems[:3])}); nothing was installed."
            )
        destination = models_dir / spec.name
        _replace_folder(root, destination)
    return destination


def fetch_model(name: str, models_dir: Path, progress: Progress | None = None) -> ModelStatus:
    """Make sure a good copy of the model is in models_dir: keep, link from the mirror, or download."""
    spec = spec_for(name)
    models_dir = Path(models_dir)
    installed = models_dir / name
    if installed.exists() or installed.is_symlink():
        status = check_folder(spec, installed, full=not _stamp_ok(models_dir, spec, installed))
        if status.ok:
            _write_stamp(models_dir, spec, installed)
            return status
        if progress:
            progress(f"{name}: the installed copy is {status.state}; replacing it.")
    mirror = mirror_dir()
    if mirror is not None and (mirror / name).is_dir():
        if progress:
            progress(f"{name}: installing from the mirror {mirror}.")
        folder = _install_from_mirror(spec, mirror / name, models_dir)
    else:
        if progress:
            progress(f"{name}: downloading about {spec.download_mb} MB from {spec.source}.")
        try:
            folder = _install_by_download(spec, models_dir, progress)
        except ModelError as error:
            raise ModelError(
                f"{error} To install offline, copy the folder {name} into a mirror folder and set "
                f"{MIRROR_ENV} to it, or unpack it into {models_dir}."
            ) from None
    status = check_folder(spec, folder, full=False)
    if status.ok:
        _write_stamp(models_dir, spec, folder)
    return status


def _stamp_ok(models_dir: Path, spec: ModelSpec, folder: Path) -> bool:
    return not _presence_problems(spec, folder) and _read_stamp(models_dir, spec, folder)


# ---------------------------------------------------------------------------------------------
# `python run.py models fetch|verify`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `fetch` and `verify` to a `models` sub-command parser."""
    actions = parser.add_subparsers(dest="models_action", metavar="{fetch,verify,list}")
    for action, help_text in (
        ("fetch", "install speech models (default: Whisper base, the Vosk Japanese model and any model in the mirror)"),
        ("verify", "check every installed model file against its sha256"),
        ("list", "show the known models and where they are"),
    ):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument("names", nargs="*", metavar="MODEL", help=f"model names: {', '.join(REGISTRY)}")
        sub.add_argument("--quiet", action="store_true", help="print only problems")


def default_fetch_names() -> list[str]:
    names = [name for name, spec in REGISTRY.items() if spec.fetched_by_default]
    mirror = mirror_dir()
    if mirror is not None:
        names += [name for name in REGISTRY if name not in names and (mirror / name).is_dir()]
    return names


def command(args: argparse.Namespace, settings=None) -> int:
    """Run `models fetch|verify|list`; returns the exit code. Never raises for model problems.

    The models folder is settings.models_dir (or args.models_dir, or the default)."""
    from voicecheck.settings import Settings

    action = getattr(args, "models_action", None) or getattr(args, "action", None) or "list"
    quiet = bool(getattr(args, "quiet", False))
    models_dir = Path(getattr(settings, "models_dir", None) or getattr(args, "models_dir", None)
                      or Settings().models_dir)
    names = list(getattr(args, "names", None) or [])
    say: Progress = (lambda text: None) if quiet else (lambda text: print(text, flush=True))

    def problem(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        problem(f"Unknown model {', '.join(unknown)}. Known models: {', '.join(REGISTRY)}.")
        return 2
    failures = 0
    if action == "fetch":
        for name in names or default_fetch_names():
            try:
                status = fetch_model(name, models_dir, progress=say)
            except (ModelError, OSError) as error:
                problem(f"{name}: {error}")
                failures += 1
                continue
            say(status.describe())
    elif action == "verify":
        installed = 0
        for name in names or list(REGISTRY):
            status = model_status(name, models_dir, full=True)
            installed += status.state != "missing"
            if status.ok:
                say(status.describe())
            elif status.state == "missing" and not names:
                say(status.describe())
            else:
                problem(status.describe() + ("" if status.state == "missing" else f". {install_hint(name)}"))
                failures += 1
        if not names and not installed:
            # Nothing to listen with is a failure, not "every installed model is fine".
            problem(f"No speech model is installed in {models_dir}. Install one with: python run.py models fetch")
            failures += 1
    else:
        for name in names or list(REGISTRY):
            spec = REGISTRY[name]
            status = model_status(name, models_dir, full=False)
            print(f"{name} ({spec.engine}, about {spec.download_mb} MB): {status.describe().split(': ', 1)[1]}")
    return 1 if failures else 0
