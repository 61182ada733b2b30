#!/usr/bin/env python3
"""DataFusion settings side by side on TPC-H, in DataFusion-Python on the same Parquet files.

usage: target/bench-venv/bin/python bench/tpch_settings.py [CONFIG ...]
Reads target/tpch-sf1/<table>/part-0.parquet (bench/tpch.sh generates them) and the queries
under crates/server/tests/tpch/queries. Every query runs 3 times per configuration, the
configurations interleaved per query; the best time counts. Prints one line per configuration:
its total, then each query's time. With no CONFIG, every configuration below.
"""
import sys
import time

from datafusion import SessionConfig, SessionContext

COLLECT_LEFT = {
    "datafusion.optimizer.hash_join_single_partition_threshold": str(64 << 20),
    "datafusion.optimizer.hash_join_single_partition_threshold_rows": "2000000",
}
CONFIGS = {
    "default": {},
    "batch16k": {"datafusion.execution.batch_size": "16384"},
    "batch4k": {"datafusion.execution.batch_size": "4096"},
    "pushdown": {"datafusion.execution.parquet.pushdown_filters": "true",
                 "datafusion.execution.parquet.reorder_filters": "true"},
    "norepagg": {"datafusion.optimizer.repartition_aggregations": "false"},
    # tarn's thresholds (crates/query/src/engine/mod.rs)
    "collectleft": COLLECT_LEFT,
    "cl256": {"datafusion.optimizer.hash_join_single_partition_threshold": str(256 << 20),
              "datafusion.optimizer.hash_join_single_partition_threshold_rows": "10000000"},
    "cl+tp3": {**COLLECT_LEFT, "datafusion.execution.target_partitions": "3"},
    "cl+tp4": {**COLLECT_LEFT, "datafusion.execution.target_partitions": "4"},
    "cl+b16": {**COLLECT_LEFT, "datafusion.execution.batch_size": "16384"},
    "cl+reg": {**COLLECT_LEFT, "datafusion.optimizer.use_statistics_registry": "true"},
}
TABLES = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]

names = sys.argv[1:] or list(CONFIGS)
contexts = {}
for name in names:
    config = SessionConfig()
    for k, v in CONFIGS[name].items():
        config = config.set(k, v)
    ctx = SessionContext(config)
    for t in TABLES:
        ctx.register_parquet(t, f"target/tpch-sf1/{t}/part-0.parquet")
    contexts[name] = ctx
best = {name: {} for name in names}
for i in range(1, 23):
    with open(f"crates/server/tests/tpch/queries/q{i:02d}.sql") as f:
        sql = f.read().strip().rstrip(";")
    for _ in range(3):
        for name in names:
            t = time.perf_counter()
            contexts[name].sql(sql).collect()
            best[name][i] = min(best[name].get(i, float("inf")), time.perf_counter() - t)
for name in names:
    print(name, f"{sum(best[name].values()):.3f}", " ".join(f"{best[name][i]:.3f}" for i in range(1, 23)))
