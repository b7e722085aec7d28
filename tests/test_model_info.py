"""A model is a local file or a server's model, said once (`ModelInfo.is_remote`), and
each message records which model wrote it without losing part of its name."""

from __future__ import annotations

from pathlib import Path

from gguf_tui.engine.remote.endpoint import Endpoint
from gguf_tui.engine.remote.models import RemoteModel, remote_model_info
from tests.support.fake_engine import fake_info


def test_a_server_model_with_an_org_in_its_id_is_recorded_whole():
    model = RemoteModel(Endpoint("http://127.0.0.1:8080/v1"), "Qwen/Qwen3-8B-Instruct")
    info = remote_model_info(model, load_seconds=0.1)
    assert info.is_remote and info.path is None
    assert info.model_id == "Qwen/Qwen3-8B-Instruct"
    # Saved with each answer: before, this was "127.0.0.1:8080/Qwen3-8B-Instruct".
    assert info.model_file == "127.0.0.1:8080/Qwen/Qwen3-8B-Instruct"
    assert model.model_file == info.model_file  # the picker's label is the same one


def test_a_server_that_names_models_by_path_is_recorded_by_file_name():
    # llama_cpp.server lists the GGUF's path as the id.
    model = RemoteModel(Endpoint("http://127.0.0.1:8000/v1"), "/srv/models/SmolLM2-Q4_1.gguf")
    info = remote_model_info(model, load_seconds=0.1)
    assert info.model_file == "127.0.0.1:8000/SmolLM2-Q4_1.gguf"
    assert info.quant == "Q4_1"


def test_a_local_model_is_its_file():
    info = fake_info("Fake-1B-Instruct-Q4_K_M.gguf")
    assert not info.is_remote
    assert info.path == Path("/models/Fake-1B-Instruct-Q4_K_M.gguf")
    assert info.model_file == "Fake-1B-Instruct-Q4_K_M.gguf"
