"""Model registry, checks, mirror installs and downloads (file:// URLs stand in for the network)."""
from __future__ import annotations

import argparse
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from voicecheck import models
from voicecheck.models import (
    MIRROR_ENV,
    VOSK_JA,
    WHISPER_BASE,
    ModelError,
    ModelSpec,
    check_folder,
    fetch_model,
    model_status,
    require_model,
)

SHARED_MODELS = Path(os.environ.get(MIRROR_ENV) or Path(__file__).resolve().parents[2] / "shared" / "models")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FILES = {"conf/model.conf": b"--beam=10\n", "am/final.mdl": b"\x00acoustic model\x01" * 50, "README": b"tiny model\n"}


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A three-file model in the registry, with a source folder to mirror, zip or serve file by file."""
    source = tmp_path / "source" / "tiny-model"
    for rel, data in FILES.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    archive = tmp_path / "tiny-model.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for rel, data in FILES.items():
            zipped.writestr(f"tiny-model/{rel}", data)
    spec = ModelSpec(name="tiny-model", engine="vosk", files={rel: sha(d) for rel, d in FILES.items()},
                     source="a test", download_mb=1, archive_url=archive.as_uri(), fetched_by_default=True)
    monkeypatch.setitem(models.REGISTRY, "tiny-model", spec)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return spec, source, tmp_path / "models"


def read_sums(path: Path) -> dict[str, str]:
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.removeprefix("./")] = digest
    return sums


# ---------------------------------------------------------------------------------- registry


def test_registry_holds_the_official_models():
    vosk, whisper = models.REGISTRY[VOSK_JA], models.REGISTRY[WHISPER_BASE]
    assert vosk.archive_url == "https://alphacephei.com/vosk/models/vosk-model-small-ja-0.22.zip"
    assert vosk.fetched_by_default and "graph/words.txt" in vosk.files and "am/final.mdl" in vosk.files
    assert whisper.file_url.startswith("https://huggingface.co/Systran/faster-whisper-base/")
    assert set(whisper.files) == {"config.json", "model.bin", "tokenizer.json", "vocabulary.txt"}
    for spec in (vosk, whisper):
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in spec.files.values())


def test_checksums_match_the_published_lists():
    vosk_list = SHARED_MODELS / "vosk-model-small-ja-0.22-lexicon" / "MODEL_SHA256SUMS"
    whisper_list = SHARED_MODELS / WHISPER_BASE / "SHA256SUMS"
    if not vosk_list.is_file() or not whisper_list.is_file():
        pytest.skip("the shared checksum lists are not beside the project")
    assert dict(models.REGISTRY[VOSK_JA].files) == read_sums(vosk_list)
    assert dict(models.REGISTRY[WHISPER_BASE].files) == read_sums(whisper_list)


# ---------------------------------------------------------------------------------- checks


def test_folder_states(tiny, tmp_path):
    spec, source, _ = tiny
    assert check_folder(spec, source).state == "ok"
    assert check_folder(spec, tmp_path / "nowhere").state == "missing"
    (source / "README").unlink()
    partial = check_folder(spec, source)
    assert partial.state == "partial" and partial.problems == ("README is missing",)
    (source / "README").write_bytes(b"tiny model, edited\n")
    corrupt = check_folder(spec, source)
    assert corrupt.state == "corrupt" and "README has the wrong checksum" in corrupt.problems
    assert check_folder(spec, source, full=False).state == "ok"  # presence only


def test_status_trusts_a_stamp_until_a_file_changes(tiny):
    spec, source, models_dir = tiny
    installed = models_dir / spec.name
    installed.parent.mkdir(parents=True)
    os.symlink(source, installed)
    assert model_status(spec.name, models_dir).ok
    assert (models_dir / ".verified" / "tiny-model.json").is_file()
    target = source / "am" / "final.mdl"
    data = bytearray(target.read_bytes())
    data[3] ^= 0xFF  # same size, different content
    target.write_bytes(bytes(data))
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10_000_000))
    status = model_status(spec.name, models_dir)
    assert status.state == "corrupt" and "am/final.mdl has the wrong checksum" in status.problems


def test_require_model_says_what_to_do(tiny):
    spec, _, models_dir = tiny
    with pytest.raises(ModelError) as error:
        require_model(spec.name, models_dir)
    message = str(error.value)
    assert "tiny-model is not installed" in message
    assert "python run.py models fetch tiny-model" in message and MIRROR_ENV in message


def test_a_partial_model_is_reported_not_loaded(tiny):
    spec, source, models_dir = tiny
    (models_dir / spec.name / "conf").mkdir(parents=True)
    (models_dir / spec.name / "conf" / "model.conf").write_bytes(FILES["conf/model.conf"])
    with pytest.raises(ModelError) as error:
        require_model(spec.name, models_dir)
    assert "partial" in str(error.value) and "am/final.mdl is missing" in str(error.value)


# ---------------------------------------------------------------------------------- installing


def test_mirror_replaces_the_download(tiny, monkeypatch):
    spec, source, models_dir = tiny
    monkeypatch.setenv(MIRROR_ENV, str(source.parent))
    monkeypatch.setattr(models, "_download", lambda *a, **k: pytest.fail("must not download"))
    status = fetch_model(spec.name, models_dir)
    assert status.ok
    installed = models_dir / spec.name
    assert installed.is_symlink() and installed.resolve() == source.resolve()
    assert not list(models_dir.glob(".*linking"))


def test_mirror_used_directly_when_not_fetched(tiny, monkeypatch):
    spec, source, models_dir = tiny
    monkeypatch.setenv(MIRROR_ENV, str(source.parent))
    assert require_model(spec.name, models_dir) == source


def test_corrupt_mirror_installs_nothing(tiny, monkeypatch):
    spec, source, models_dir = tiny
    (source / "README").write_bytes(b"damaged")
    monkeypatch.setenv(MIRROR_ENV, str(source.parent))
    with pytest.raises(ModelError, match="mirror copy of tiny-model .* is corrupt"):
        fetch_model(spec.name, models_dir)
    assert not (models_dir / spec.name).exists()


def test_download_unpacks_and_verifies_the_archive(tiny):
    spec, _, models_dir = tiny
    messages = []
    status = fetch_model(spec.name, models_dir, progress=messages.append)
    assert status.ok and (models_dir / spec.name / "am" / "final.mdl").read_bytes() == FILES["am/final.mdl"]
    assert any("downloading" in m for m in messages)
    assert sorted(p.name for p in models_dir.iterdir()) == [".verified", "tiny-model"]  # no leftovers
    # a second fetch keeps the good copy
    assert fetch_model(spec.name, models_dir).ok


def test_download_per_file(tiny, monkeypatch):
    spec, source, models_dir = tiny
    per_file = ModelSpec(name=spec.name, engine="whisper", files=spec.files, source="a test", download_mb=1,
                         file_url=source.as_uri() + "/{path}")
    monkeypatch.setitem(models.REGISTRY, spec.name, per_file)
    assert fetch_model(spec.name, models_dir).ok
    assert (models_dir / spec.name / "README").read_bytes() == FILES["README"]


def test_a_wrong_download_installs_nothing(tiny, tmp_path):
    spec, _, models_dir = tiny
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zipped:
        for rel, data in FILES.items():
            zipped.writestr(f"tiny-model/{rel}", data + b"!")
    models.REGISTRY[spec.name] = ModelSpec(**{**spec.__dict__, "archive_url": bad.as_uri()})
    with pytest.raises(ModelError, match="corrupt"):
        fetch_model(spec.name, models_dir)
    assert [p.name for p in models_dir.iterdir()] == []


def test_an_archive_escaping_its_folder_is_refused(tiny, tmp_path):
    spec, _, models_dir = tiny
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zipped:
        zipped.writestr("../../outside.txt", b"x")
    models.REGISTRY[spec.name] = ModelSpec(**{**spec.__dict__, "archive_url": evil.as_uri()})
    with pytest.raises(ModelError, match="outside its folder"):
        fetch_model(spec.name, models_dir)
    assert not (tmp_path / "outside.txt").exists()


def test_offline_download_failure_explains_the_mirror(tiny):
    spec, _, models_dir = tiny
    models.REGISTRY[spec.name] = ModelSpec(**{**spec.__dict__, "archive_url": "http://127.0.0.1:9/tiny-model.zip"})
    with pytest.raises(ModelError) as error:
        fetch_model(spec.name, models_dir)
    message = str(error.value)
    assert "Could not download http://127.0.0.1:9/tiny-model.zip" in message and MIRROR_ENV in message
    assert not (models_dir / spec.name).exists()


# ---------------------------------------------------------------------------------- the command


def run_command(capsys, models_dir, action, *names, quiet=False):
    args = argparse.Namespace(action=action, names=list(names), quiet=quiet)
    code = models.command(args, argparse.Namespace(models_dir=models_dir))
    out, err = capsys.readouterr()
    return code, out, err


def test_command_fetch_and_verify(tiny, monkeypatch, capsys):
    spec, source, models_dir = tiny
    monkeypatch.setenv(MIRROR_ENV, str(source.parent))
    for name in (VOSK_JA, WHISPER_BASE):  # only the test's tiny model is fetched by default here
        monkeypatch.setitem(models.REGISTRY, name, ModelSpec(**{**models.REGISTRY[name].__dict__,
                                                                "fetched_by_default": False}))
    code, out, err = run_command(capsys, models_dir, "fetch")
    assert code == 0 and "tiny-model: ok" in out and err == ""
    code, out, err = run_command(capsys, models_dir, "verify", "tiny-model")
    assert code == 0 and "tiny-model: ok" in out


def test_command_reports_problems_without_a_traceback(tiny, monkeypatch, capsys):
    spec, source, models_dir = tiny
    (models_dir / spec.name).mkdir(parents=True)
    (models_dir / spec.name / "README").write_bytes(FILES["README"])
    code, out, err = run_command(capsys, models_dir, "verify", "tiny-model")
    assert code == 1 and "tiny-model: partial" in err and "Traceback" not in err
    code, out, err = run_command(capsys, models_dir, "verify", "no-such-model")
    assert code == 2 and "Unknown model no-such-model" in err
    models.REGISTRY[spec.name] = ModelSpec(**{**spec.__dict__, "archive_url": "http://127.0.0.1:9/x.zip"})
    (models_dir / spec.name / "README").unlink()
    code, out, err = run_command(capsys, models_dir, "fetch", "tiny-model", quiet=True)
    assert code == 1 and out == "" and "Could not download" in err


def test_argument_parser_accepts_the_documented_forms():
    parser = argparse.ArgumentParser()
    models.add_arguments(parser)
    args = parser.parse_args(["fetch", "--quiet"])
    assert (args.models_action, args.names, args.quiet) == ("fetch", [], True)
    args = parser.parse_args(["verify", WHISPER_BASE])
    assert (args.models_action, args.names) == ("verify", [WHISPER_BASE])


# ---------------------------------------------------------------------------------- the real mirror


@pytest.mark.model
def test_real_whisper_model_from_the_mirror(tmp_path, monkeypatch, capsys):
    if not (SHARED_MODELS / WHISPER_BASE / "model.bin").is_file():
        pytest.skip("faster-whisper-base is not in the mirror")
    monkeypatch.setenv(MIRROR_ENV, str(SHARED_MODELS))
    models_dir = tmp_path / "models"
    code, out, err = run_command(capsys, models_dir, "fetch", WHISPER_BASE)
    assert code == 0, err
    assert (models_dir / WHISPER_BASE).is_symlink()
    assert model_status(WHISPER_BASE, models_dir, full=True).ok
