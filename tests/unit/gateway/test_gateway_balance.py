"""Replica pools in process: the balancing rule on constructed loads, the engines' queues read
from their real /metrics pages, pool membership from health checks, and the routing table's
rules for pools. (tests/integration/gateway/test_gateway_replicas.py runs real processes.)"""

from __future__ import annotations

import math
from pathlib import Path
from typing import get_args

import pytest
import yaml
from gateway_support import DATA_CLASSES, JURISDICTIONS

from reference_stack.gateway.balance import (
    RULES,
    BalanceRule,
    Member,
    engine_queue,
    least_load,
    load,
    round_robin,
)
from reference_stack.gateway.replicas import Pools, engine_root
from reference_stack.gateway.routing import Candidate, Router, RoutingTable
from reference_stack.gateway.settings import Settings

DATA = Path(__file__).parents[2] / "data" / "engine_metrics"
FRESH = 2.0  # seconds a reading counts (ENGINE_METRICS_STALE_S)


def names(members: list[Member]) -> list[str]:
    return [m.name for m in members]


# --- the rule ------------------------------------------------------------------------------------
def test_least_load_prefers_the_idle_replica_and_round_robin_does_not():
    """The constructed load: a is busy with 3 requests, b is idle. Load-aware picks b whatever
    the turn; round-robin picks whoever's turn it is (a at turns 0 and 2)."""
    busy, idle = Member("a", ours=3), Member("b", ours=0)
    for turn in range(4):
        assert names(least_load([busy, idle], turn, FRESH)) == ["b", "a"]
    assert [names(round_robin([busy, idle], t, FRESH))[0] for t in range(4)] == ["a", "b"] * 2


def test_least_load_orders_every_member_and_rotates_ties():
    members = [Member("a", 2), Member("b", 0), Member("c", 1), Member("d", 0)]
    assert names(least_load(members, 0, FRESH)) == ["b", "d", "c", "a"]  # loads 0, 0, 1, 2
    assert names(least_load(members, 2, FRESH)) == ["d", "b", "c", "a"]  # tie: d's turn first
    idle = [Member("a", 0), Member("b", 0), Member("c", 0)]
    assert [least_load(idle, t, FRESH)[0].name for t in range(6)] == ["a", "b", "c"] * 2


def test_round_robin_takes_each_member_in_turn():
    members = [Member("a", 5), Member("b", 0), Member("c", 9)]
    assert names(round_robin(members, 0, FRESH)) == ["a", "b", "c"]
    assert names(round_robin(members, 4, FRESH)) == ["b", "c", "a"]  # 4 mod 3 = 1
    assert round_robin([], 3, FRESH) == []


def test_load_counts_other_clients_only_from_a_fresh_engine_reading():
    # the engine reported 5 in its queue when 2 of them were ours: 3 are someone else's
    m = Member("a", ours=1, engine_queue=5.0, ours_then=2, age_s=0.5)
    assert load(m, FRESH) == 1 + 3
    assert load(Member("a", 1, 5.0, 2, age_s=FRESH), FRESH) == 4  # at the limit: still fresh
    assert load(Member("a", 1, 5.0, 2, age_s=FRESH + 0.01), FRESH) == 1  # stale: ours only
    assert load(Member("a", 1, None, 0, age_s=0.0), FRESH) == 1  # never read
    assert load(Member("a", 4, 1.0, 3, age_s=0.0), FRESH) == 4  # ours moved on: never below 0


def test_least_load_sees_a_queue_only_the_engine_knows():
    """Both replicas have nothing in flight from this gateway, but a's engine is busy with
    requests from another client: load-aware goes to b, round-robin does not look."""
    a = Member("a", ours=0, engine_queue=4.0, ours_then=0, age_s=0.2)
    b = Member("b", ours=0, engine_queue=0.0, ours_then=0, age_s=0.2)
    assert [least_load([a, b], t, FRESH)[0].name for t in range(3)] == ["b"] * 3
    assert [round_robin([a, b], t, FRESH)[0].name for t in range(2)] == ["a", "b"]


def test_every_rule_an_alias_may_name_exists():
    assert set(get_args(BalanceRule)) == set(RULES)


# --- the engines' queues, from their real pages --------------------------------------------------
def test_engine_queue_of_real_vllm_and_llama_server_pages():
    # tests/data/engine_metrics/: recorded while vLLM ran 8 and queued 2, llama-server ran 4
    # (its slots) and deferred 2; vllm:num_requests_waiting_by_reason is not counted twice
    assert engine_queue((DATA / "vllm.txt").read_text()) == 10.0
    assert engine_queue((DATA / "llamacpp.txt").read_text()) == 6.0


def test_engine_queue_adds_label_sets_and_is_none_without_queue_metrics():
    text = (
        'vllm:num_requests_running{engine="0"} 3\n'
        'vllm:num_requests_running{engine="1"} 2\n'
        'vllm:num_requests_waiting{engine="0"} 1.5\n'
        "vllm:num_requests_running_total 99\n"  # another metric with the same prefix
    )
    assert engine_queue(text) == 6.5
    assert engine_queue("# HELP x y\nother_metric 4\n") is None
    assert engine_queue("") is None
    assert engine_queue('vllm:num_requests_waiting{engine="0"} NaN\n') is None


def test_engine_root():
    assert engine_root("http://127.0.0.1:8403/v1") == "http://127.0.0.1:8403"
    assert engine_root("http://h:8000/v1/") == "http://h:8000"
    assert engine_root("http://h:8000") == "http://h:8000"


# --- the routing table ----------------------------------------------------------------------------
def table_dict(upstreams: dict, models: dict) -> dict:
    return {
        "source": "test",
        "jurisdictions": JURISDICTIONS,
        "data_classes": DATA_CLASSES,
        "upstreams": upstreams,
        "models": models,
    }


def entry(**fields) -> dict:
    return {
        "kind": "openai",
        "region": "local",
        "jurisdiction": "on-prem",
        "price": {"input_per_mtok": 0, "output_per_mtok": 0},
        "retention": {"days": 0},
        **fields,
    }


POOL = entry(replicas=["http://127.0.0.1:9001/v1", "http://127.0.0.1:9002/v1"])
SINGLE = entry(base_url="http://127.0.0.1:9003/v1")


def write(tmp_path, upstreams: dict, models: dict) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(table_dict(upstreams, models)))
    return path


def test_a_pool_is_one_upstream_whose_members_share_its_place(tmp_path):
    table = RoutingTable.load(
        write(tmp_path, {"pool": POOL}, {"m": {"chain": [{"upstream": "pool"}]}})
    )
    members = table.upstreams["pool"].members
    assert [m.name for m in members] == ["pool/1", "pool/2"]
    assert [m.base_url for m in members] == POOL["replicas"]
    for m in members:  # what residency and accounting read is the pool's
        assert (m.jurisdiction, m.region, m.retention, m.price) == (
            "on-prem",
            "local",
            table.upstreams["pool"].retention,
            table.upstreams["pool"].price,
        )
    assert table.models["m"].balance == "least-load"  # the default


@pytest.mark.parametrize(
    "upstream, model, message",
    [
        (entry(), {}, "either base_url or replicas"),
        (entry(base_url="http://a/v1", replicas=["http://b/v1"]), {}, "either base_url or"),
        (entry(replicas=["http://a/v1", "http://a/v1"]), {}, "same base URL twice"),
        (
            entry(kind="azure", api_version="2024-10-21", replicas=["http://a"]),
            {},
            "replicas are engines you run",
        ),
        (entry(replicas=["ftp://a/v1"]), {}, "pattern"),
        (POOL, {"balance": "random"}, "balance"),
    ],
)
def test_bad_pools_are_refused_with_a_clear_error(tmp_path, upstream, model, message):
    models = {"m": {"chain": [{"upstream": "pool"}], **model}}
    with pytest.raises(ValueError, match=message):
        RoutingTable.load(write(tmp_path, {"pool": upstream}, models))


def test_a_member_name_may_not_shadow_another_upstream(tmp_path):
    path = write(
        tmp_path, {"pool": POOL, "pool/2": SINGLE}, {"m": {"chain": [{"upstream": "pool"}]}}
    )
    with pytest.raises(ValueError, match="has the name of another upstream"):
        RoutingTable.load(path)


# --- pools: plans, counts and membership ----------------------------------------------------
def pools_for(tmp_path, **settings) -> tuple[Pools, Router, list[Candidate]]:
    models = {"m": {"chain": [{"upstream": "pool"}, {"upstream": "single"}]}}
    table = RoutingTable.load(write(tmp_path, {"pool": POOL, "single": SINGLE}, models))
    rejoined: list[str] = []
    pools = Pools(table, Settings(**settings), on_rejoin=rejoined.append)
    pools.rejoined = rejoined  # type: ignore[attr-defined]
    router = Router(table)
    return pools, router, router.order(router.chain("m"))


def test_a_plan_lists_the_members_in_the_rule_order_then_the_chain(tmp_path):
    pools, _, plan = pools_for(tmp_path)
    assert [c.name for c in plan] == ["pool", "single"]
    first = [c.name for c in pools.expand(plan, "round-robin")]
    second = [c.name for c in pools.expand(plan, "round-robin")]
    assert first == ["pool/1", "pool/2", "single"] and second == ["pool/2", "pool/1", "single"]
    expanded = pools.expand(plan, "least-load")
    assert [c.model for c in expanded] == ["m", "m", "m"]  # the step's model name, every member
    assert expanded[0].upstream.base_url in POOL["replicas"]
    assert pools.expand([plan[1]], "least-load") == [plan[1]]  # no pool: the plan unchanged


def test_requests_in_flight_steer_least_load_not_round_robin(tmp_path):
    pools, _, plan = pools_for(tmp_path)
    pools.started("pool/1")
    pools.started("pool/1")
    pools.started("single")  # not a member: not counted, no error
    for _ in range(3):
        assert pools.expand(plan, "least-load")[0].name == "pool/2"
    assert {pools.expand(plan, "round-robin")[0].name for _ in range(2)} == {"pool/1", "pool/2"}
    pools.finished("pool/1")
    pools.finished("pool/1")
    pools.finished("pool/1")  # one too many: never below zero
    assert pools.replicas["pool/1"].ours == 0


def test_failed_checks_take_a_member_out_and_a_passing_one_brings_it_back(tmp_path):
    pools, _, plan = pools_for(tmp_path, replica_unhealthy_threshold=2)
    one = pools.replicas["pool/1"]
    pools.observe(one, healthy=False)
    assert one.in_pool  # one failed check is not enough
    pools.observe(one, healthy=True)
    pools.observe(one, healthy=False)
    assert one.in_pool  # failures must be consecutive
    pools.observe(one, healthy=False)
    assert not one.in_pool and pools.rejoined == []
    for _ in range(3):
        assert [c.name for c in pools.expand(plan, "round-robin")] == ["pool/2", "single"]
    pools.observe(one, healthy=True)
    assert one.in_pool and pools.rejoined == ["pool/1"]  # told once, on the way back in
    pools.observe(one, healthy=True)
    assert pools.rejoined == ["pool/1"]


def test_when_every_member_is_out_all_are_tried(tmp_path):
    pools, _, plan = pools_for(tmp_path, replica_unhealthy_threshold=1)
    for replica in pools.replicas.values():
        pools.observe(replica, healthy=False)
    assert {c.name for c in pools.expand(plan, "least-load")[:2]} == {"pool/1", "pool/2"}


def test_a_member_leaving_forgets_its_engine_reading(tmp_path):
    pools, _, _ = pools_for(tmp_path, replica_unhealthy_threshold=1)
    one = pools.replicas["pool/1"]
    one.engine_queue, one.read_at = 3.0, math.inf
    pools.observe(one, healthy=False)
    assert one.engine_queue is None
    snapshot = pools.snapshot()
    assert snapshot["pool/1"] == {"in_pool": False, "in_flight": 0, "engine_queue": None}
