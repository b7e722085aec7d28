"""Hub listing, download and model specs, against the loopback FakeHub (real client, real files)."""

from __future__ import annotations

import filecmp
import threading
import time
from pathlib import Path

import pytest

from gguf_tui.models.catalog import scan
from gguf_tui.models.hub import download as download_module
from gguf_tui.models.hub.client import HubEnv
from gguf_tui.models.hub.download import download
from gguf_tui.models.hub.errors import (
    DiskFull,
    DownloadCancelled,
    GatedRepo,
    HubOffline,
    HubTimeout,
    HubUnreachable,
    NoMatchingFile,
    RemoteFileNotFound,
    RepoNotFound,
)
from gguf_tui.models.hub.listing import list_quants, search_repos
from gguf_tui.models.resolve import HubSpec, SpecError, parse_spec, resolve_model_spec
from tests.support.fake_hub import GATED_REPO, LADDER_REPO, SPLIT_REPO

pytest_plugins = ["tests.conftest_hub"]

BY_BPW = ["Q3_K_S", "IQ4_NL", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]
Q3 = "SmolLM2-135M-Instruct-Q3_K_S.gguf"


def cache_files(home: Path) -> list[Path]:
    """Everything under the HF cache that is a file (links resolved), for leftover checks."""
    return [p for p in (home / "hub").rglob("*") if p.is_file()]


def ggufs_in_snapshots(home: Path) -> list[Path]:
    return [p for p in (home / "hub").rglob("snapshots/**/*.gguf") if p.exists()]


class Recorder:
    def __init__(self, cancel_after: int | None = None, cancel: threading.Event | None = None):
        self.calls: list[tuple[int, int, float, float | None]] = []
        self.cancel_after = cancel_after
        self.cancel = cancel

    def __call__(self, done, total, speed, eta):
        self.calls.append((done, total, speed, eta))
        if self.cancel_after is not None and done >= self.cancel_after:
            self.cancel.set()


# -- listing -------------------------------------------------------------------------------


def test_quantizations_are_listed_by_bits_per_weight_with_guidance(fake_hub, ladder):
    quants = list_quants(LADDER_REPO, n_ctx=4096)
    assert [q.quant for q in quants] == BY_BPW
    by_name = {q.quant: q for q in quants}
    for name, q in by_name.items():
        assert q.size == ladder[name].stat().st_size
        assert q.filenames == [f"SmolLM2-135M-Instruct-{name}.gguf"]
        assert not q.bpw_estimated  # the repo info carries the parameter count
        assert q.spec == f"{LADDER_REPO}:{name}"
    assert by_name["Q4_K_M"].hint == "good default"
    assert by_name["Q3_K_S"].hint == "low quality"
    assert by_name["Q8_0"].bits_per_weight == pytest.approx(8.6, abs=0.1)
    memory = by_name["Q4_K_M"].memory
    # The KV cache comes from the real hyperparameters, read from the file's first megabyte.
    assert memory.kv_exact and memory.kv_cache == 23040 * 4096
    assert memory.total > by_name["Q4_K_M"].size
    assert fake_hub.count("cursor=") >= 1  # the tree listing was paginated and followed


def test_a_split_quantization_is_one_entry_with_its_shards_summed(fake_hub, sharded_path):
    (q,) = list_quants(SPLIT_REPO)
    shards = sorted(sharded_path.parent.glob("*.gguf"))
    assert q.quant == "Q4_1" and q.n_shards == 2 and not q.missing_shards
    assert q.filenames == [f"Q4_1/{p.name}" for p in shards]
    assert q.size == sum(p.stat().st_size for p in shards)
    assert q.bpw_estimated and q.bits_per_weight == 5.0  # nominal: no parameter count


def test_search_finds_gguf_repositories_most_downloaded_first(fake_hub):
    found = search_repos("smollm2")
    assert [r.repo_id for r in found] == [LADDER_REPO, SPLIT_REPO, GATED_REPO]
    assert [r.gated for r in found] == [False, False, True]
    assert "search=smollm2" in fake_hub.requests[-1].path
    assert "filter=gguf" in fake_hub.requests[-1].path


def test_a_missing_repository_is_a_plain_error(fake_hub):
    with pytest.raises(RepoNotFound, match="nobody/nothing-GGUF not found"):
        list_quants("nobody/nothing-GGUF")


# -- download ------------------------------------------------------------------------------


def test_download_reports_monotonic_progress_ending_at_the_total(fake_hub, hub_env, ladder):
    progress = Recorder()
    path = download(LADDER_REPO, [Q3], progress=progress)
    assert filecmp.cmp(path, ladder["Q3_K_S"], shallow=False)
    assert path.is_relative_to(hub_env / "hub") and "snapshots" in path.parts
    done = [c[0] for c in progress.calls]
    total = ladder["Q3_K_S"].stat().st_size
    assert done == sorted(done) and done[-1] == total
    assert {c[1] for c in progress.calls} == {total}
    assert progress.calls[-1][3] == 0.0  # nothing left: ETA zero


def test_a_split_model_downloads_every_shard(fake_hub, sharded_path):
    (q,) = list_quants(SPLIT_REPO)
    progress = Recorder()
    first = download(SPLIT_REPO, q.filenames, progress=progress)
    assert first.name == sharded_path.name
    second = first.with_name(sharded_path.name.replace("00001-of", "00002-of"))
    assert filecmp.cmp(second, sharded_path.with_name(second.name), shallow=False)
    assert progress.calls[-1][:2] == (q.size, q.size)


def test_download_into_a_folder(fake_hub, tmp_path, ladder):
    path = download(LADDER_REPO, [Q3], local_dir=tmp_path / "models")
    assert path == tmp_path / "models" / Q3
    assert filecmp.cmp(path, ladder["Q3_K_S"], shallow=False)


def test_cancel_mid_download_leaves_nothing_that_looks_complete(fake_hub, hub_env, ladder):
    fake_hub.rate = 5e6  # 88 MB would take ~18 s
    cancel = threading.Event()
    progress = Recorder(cancel_after=2_000_000, cancel=cancel)
    started = time.monotonic()
    with pytest.raises(DownloadCancelled):
        download(LADDER_REPO, [Q3], progress=progress, cancel=cancel)
    assert time.monotonic() - started < 5
    assert progress.calls[-1][0] < 3_500_000  # stopped within a chunk of the request
    assert fake_hub.wait_for(lambda: fake_hub.bodies_in_flight == 0, 5)  # the transfer stopped
    assert progress.calls[-1][0] < ladder["Q3_K_S"].stat().st_size
    leftovers = [p for p in cache_files(hub_env) if p.suffix in (".gguf", ".incomplete")]
    assert leftovers == [] and ggufs_in_snapshots(hub_env) == []
    assert [m for m in scan([], cache_file=None) if m.usable] == []

    fake_hub.rate = None  # the next download starts afresh and succeeds
    path = download(LADDER_REPO, [Q3])
    assert filecmp.cmp(path, ladder["Q3_K_S"], shallow=False)


def test_a_cancelled_split_download_is_incomplete_then_resumes(fake_hub, hub_env, sharded_path):
    (q,) = list_quants(SPLIT_REPO)
    second_size = q.files[1].size
    fake_hub.rate = 40e6
    cancel = threading.Event()
    # The first shard is fetched last: cancel once it has started.
    progress = Recorder(cancel_after=second_size + 1_000_000, cancel=cancel)
    with pytest.raises(DownloadCancelled):
        download(SPLIT_REPO, q.filenames, progress=progress, cancel=cancel)
    (partial,) = scan([], cache_file=None)
    assert partial.incomplete and partial.missing_shards == [sharded_path.name]

    fake_hub.rate = None
    assert fake_hub.wait_for(lambda: fake_hub.bodies_in_flight == 0)  # it saw the hang-up
    sent = fake_hub.body_bytes_sent
    first = download(SPLIT_REPO, q.filenames)
    assert fake_hub.body_bytes_sent - sent == q.files[0].size  # shard 2 was kept
    (model,) = scan([], cache_file=None)
    assert model.usable and model.path == first


def test_a_gated_repository_says_how_to_get_access(fake_hub, monkeypatch, ladder):
    (q,) = list_quants(GATED_REPO)  # the file list is public; the files are not
    assert q.gated
    with pytest.raises(GatedRepo) as info:
        download(GATED_REPO, q.filenames)
    message = str(info.value)
    assert GATED_REPO in message and "hf auth login" in message and "HF_TOKEN" in message
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)  # read at call time
    path = download(GATED_REPO, q.filenames)
    assert filecmp.cmp(path, ladder["Q3_K_S"], shallow=False)


def test_a_file_gone_from_the_repository(fake_hub):
    with pytest.raises(RemoteFileNotFound, match=r"gone\.gguf"):
        download(LADDER_REPO, ["gone.gguf"])


def test_a_stalled_server_times_out_instead_of_hanging(fake_hub, monkeypatch):
    monkeypatch.setenv("GGUF_TUI_HUB_TIMEOUT", "1")
    fake_hub.stall = "headers"
    started = time.monotonic()
    with pytest.raises(HubTimeout, match="stopped answering"):
        list_quants(LADDER_REPO)
    assert time.monotonic() - started < 5


def test_a_body_that_stops_arriving_times_out_and_leaves_nothing(fake_hub, hub_env, monkeypatch):
    monkeypatch.setenv("GGUF_TUI_HUB_TIMEOUT", "1")
    fake_hub.stall, fake_hub.stall_match = "body", "/resolve/"
    started = time.monotonic()
    with pytest.raises(HubTimeout):
        download(LADDER_REPO, [Q3])
    assert time.monotonic() - started < 5
    assert [p for p in cache_files(hub_env) if p.suffix in (".gguf", ".incomplete")] == []


def test_an_unreachable_server_fails_fast(fake_hub):
    fake_hub.close()
    started = time.monotonic()
    with pytest.raises(HubUnreachable, match="cannot reach"):
        list_quants(LADDER_REPO)
    assert time.monotonic() - started < 5


def test_too_little_disk_space_is_refused_before_downloading(fake_hub, monkeypatch):
    class Usage:
        free = 10_000_000

    monkeypatch.setattr(download_module.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(DiskFull, match=r"needs 88\.2 MB, 10\.0 MB is free"):
        download(LADDER_REPO, [Q3])
    assert not any(r.method == "GET" for r in fake_hub.requests)  # not one byte fetched


# -- model specs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M",
            HubSpec("bartowski/Qwen2.5-0.5B-Instruct-GGUF", quant="Q4_K_M"),
        ),
        ("owner/name-GGUF/*Q4_K_M.gguf", HubSpec("owner/name-GGUF", pattern="*Q4_K_M.gguf")),
        (
            "owner/name-GGUF/Q8_0/*-00001-of-*.gguf",
            HubSpec("owner/name-GGUF", pattern="Q8_0/*-00001-of-*.gguf"),
        ),
        ("/abs/model.gguf", Path("/abs/model.gguf")),
        ("./rel/model.gguf", Path("rel/model.gguf")),
        ("SmolLM2-135M-Instruct-Q8_0", "SmolLM2-135M-Instruct-Q8_0"),
    ],
)
def test_spec_forms(text, expected):
    assert parse_spec(text) == expected


def test_repo_quant_is_case_insensitive_and_downloads_once(fake_hub, ladder):
    path = resolve_model_spec(f"{LADDER_REPO}:q3_k_s")
    assert filecmp.cmp(path, ladder["Q3_K_S"], shallow=False)
    before = fake_hub.count()
    assert resolve_model_spec(f"{LADDER_REPO}:Q3_K_S") == path
    assert fake_hub.count() == before  # cached: not even a listing


def test_repo_glob_the_classic_remote_form(fake_hub, ladder):
    path = resolve_model_spec(f"{LADDER_REPO}/*q3_k_s.gguf")
    assert path.name == Q3 and filecmp.cmp(path, ladder["Q3_K_S"], shallow=False)


def test_a_glob_on_one_shard_gets_the_whole_split_model(fake_hub, sharded_path):
    path = resolve_model_spec(f"{SPLIT_REPO}/*-00001-of-00002.gguf")
    assert path.name == sharded_path.name
    assert path.with_name(path.name.replace("00001-of", "00002-of")).is_file()


def test_specs_that_match_nothing_or_too_much_say_what_exists(fake_hub):
    with pytest.raises(NoMatchingFile, match=r"no quantization Q2_K \(it has: IQ4_NL, Q3_K_S"):
        resolve_model_spec(f"{LADDER_REPO}:Q2_K")
    with pytest.raises(NoMatchingFile, match="several files matching"):
        resolve_model_spec(f"{LADDER_REPO}/*.gguf")


def test_offline_uses_the_cache_without_any_request(fake_hub, monkeypatch):
    path = resolve_model_spec(f"{LADDER_REPO}:Q3_K_S")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = fake_hub.count()
    assert resolve_model_spec(f"{LADDER_REPO}:Q3_K_S") == path
    assert resolve_model_spec(f"{LADDER_REPO}/*Q3_K_S.gguf") == path
    assert download(LADDER_REPO, [Q3]) == path
    assert fake_hub.count() == before


def test_offline_without_the_cache_is_a_clear_error(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubOffline, match="HF_HUB_OFFLINE"):
        resolve_model_spec(f"{LADDER_REPO}:Q4_K_M")
    with pytest.raises(HubOffline, match="not downloaded yet"):
        download(LADDER_REPO, [Q3])
    assert fake_hub.count() == 0


def test_local_names_and_missing_files(ladder, tmp_path):
    models = scan([ladder["Q8_0"].parent], hf_cache=None)
    assert resolve_model_spec("smollm2-135m-instruct-q8_0", models=models) == ladder["Q8_0"]
    assert (
        resolve_model_spec("SmolLM2-135M-Instruct-Q6_K.gguf", models=lambda: models)
        == ladder["Q6_K"]
    )
    with pytest.raises(SpecError, match="model file not found"):
        resolve_model_spec(str(tmp_path / "absent.gguf"))
    with pytest.raises(SpecError, match="REPO:QUANT"):
        resolve_model_spec("owner/name-GGUF", models=models)


def test_settings_are_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    (tmp_path / "token").write_text("hf_from_login\n")  # where `hf auth login` keeps it
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example/")
    monkeypatch.setenv("HF_HUB_OFFLINE", "true")
    env = HubEnv.from_environ()
    assert env.cache_dir == tmp_path / "hub" and env.token == "hf_from_login"
    assert env.endpoint == "http://mirror.example" and env.offline
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    assert HubEnv.from_environ().token == "hf_env"


def test_the_environment_keeps_other_hub_users_offline(fake_hub, monkeypatch):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import OfflineModeIsEnabled

    list_quants(LADDER_REPO)  # online: the library's own offline flag was switched off
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = fake_hub.count()
    with pytest.raises(OfflineModeIsEnabled):
        HfApi(endpoint=fake_hub.url).model_info(LADDER_REPO)  # a direct library call
    assert fake_hub.count() == before


def test_a_disk_filling_up_mid_download_is_a_plain_error(fake_hub, hub_env, monkeypatch):
    import errno

    from huggingface_hub import file_download

    real_http_get = file_download.http_get

    def fill_up(url, temp_file, **kwargs):
        temp_file.write(b"GGUF")
        raise OSError(errno.ENOSPC, "No space left on device", temp_file.name)

    monkeypatch.setattr(file_download, "http_get", fill_up)
    with pytest.raises(DiskFull, match="disk is full"):
        download(LADDER_REPO, [Q3])
    assert [p for p in cache_files(hub_env) if p.suffix in (".gguf", ".incomplete")] == []
    monkeypatch.setattr(file_download, "http_get", real_http_get)
    assert download(LADDER_REPO, [Q3]).stat().st_size == 88_201_792
