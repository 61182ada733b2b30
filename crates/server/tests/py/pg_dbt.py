"""dbt (dbt-core with dbt-postgres, over psycopg2) runs the project in tests/dbt against tarn's
PostgreSQL wire: `dbt seed` (CREATE TABLE with PostgreSQL's types, INSERT ... VALUES, all in
transactions), `dbt run` (a view, a table by CTAS, an incremental model made then appended to
through a temporary table, relations swapped with ALTER ... RENAME and DROP ... CASCADE inside
transaction blocks), `dbt test` (generic and singular tests) and `dbt docs generate` (the
catalog from pg_catalog). The rows are checked through psycopg2 after each step.
Usage: pg_dbt.py HOST PORT USER PASSWORD PROJECT_DIR"""
import json
import os
import shutil
import sys
import tempfile
from decimal import Decimal

import psycopg2
from dbt.cli.main import dbtRunner

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


host, port, user, password, source = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
work = tempfile.mkdtemp(prefix="dbt-")
project = os.path.join(work, "project")
shutil.copytree(source, project)
with open(os.path.join(work, "profiles.yml"), "w") as f:
    f.write(
        "tarn:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
        f"      host: {host}\n      port: {port}\n      user: {user}\n      password: {password}\n"
        "      dbname: default\n      schema: analytics\n      threads: 1\n      sslmode: disable\n"
    )

runner = dbtRunner()


def dbt(*args):
    res = runner.invoke(list(args) + ["--project-dir", project, "--profiles-dir", work])
    statuses = []
    if res.result is not None and hasattr(res.result, "results"):
        statuses = [(r.node.name, str(r.status)) for r in res.result.results]
    if res.exception is not None:
        print(f"dbt {args[0]}: exception {res.exception!r}", flush=True)
    return res.success, statuses


conn = psycopg2.connect(host=host, port=port, user=user, password=password, dbname="default", sslmode="disable")
conn.autocommit = True
cur = conn.cursor()


def rows(sql):
    cur.execute(sql)
    return cur.fetchall()


ok, statuses = dbt("seed")
check(ok and statuses == [("orders", "success")], f"dbt seed loads the seed: {statuses}")
check(
    rows("SELECT order_id, customer, amount, ordered_at FROM analytics.orders ORDER BY order_id")[0][:3]
    == (1, "ada", Decimal("12.50")),
    "the seed's rows carry its column types (integer, varchar, numeric)",
)
ok, statuses = dbt("seed")
check(ok, f"a second dbt seed (truncate and reload) succeeds: {statuses}")
check(rows("SELECT count(*) FROM analytics.orders") == [(6,)], "reloading the seed leaves its 6 rows, not 12")

ok, statuses = dbt("run")
check(ok and sorted(s for _, s in statuses) == ["success"] * 3, f"dbt run builds the three models: {statuses}")
check(
    rows("SELECT customer, orders, total FROM analytics.customer_totals ORDER BY customer")
    == [("ada", 3, Decimal("43.50")), ("grace", 2, Decimal("107.24")), ("linus", 1, Decimal("3.10"))],
    "the table model (CTAS) holds the aggregated rows",
)
check(rows("SELECT count(*) FROM analytics.stg_orders") == [(6,)], "the view model reads the seed")
check(rows("SELECT count(*) FROM analytics.orders_by_day") == [(6,)], "the incremental model's first run")
names = {r[0] for r in rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'")}
check(
    names == {"orders", "stg_orders", "customer_totals", "orders_by_day"},
    f"no __dbt_tmp or __dbt_backup relation is left behind: {sorted(names)}",
)

# new rows arrive; the incremental model appends only the new days
cur.execute("INSERT INTO analytics.orders VALUES (7, 'ada', 5.00, DATE '2026-04-01'), (8, 'linus', 6.00, DATE '2026-04-02')")
ok, statuses = dbt("run")
check(ok, f"a second dbt run succeeds: {statuses}")
check(rows("SELECT count(*) FROM analytics.orders_by_day") == [(8,)], "the incremental run appends the two new days")
check(
    rows("SELECT count(*) FROM analytics.customer_totals") == [(3,)]
    and rows("SELECT total FROM analytics.customer_totals WHERE customer = 'ada'") == [(Decimal("48.50"),)],
    "the table model is rebuilt with the new rows",
)

ok, statuses = dbt("test")
passed = [n for n, s in statuses if s == "pass"]
check(ok and len(passed) == len(statuses) and len(statuses) >= 8, f"dbt test passes every test: {statuses}")

ok, _ = dbt("docs", "generate")
catalog_path = os.path.join(project, "target", "catalog.json")
check(ok and os.path.exists(catalog_path), "dbt docs generate writes catalog.json")
if os.path.exists(catalog_path):
    with open(catalog_path) as f:
        catalog = json.load(f)
    node = catalog.get("nodes", {}).get("model.tarn_shop.customer_totals", {})
    columns = node.get("columns", {})
    check(
        set(columns) == {"customer", "orders", "total"} and node.get("metadata", {}).get("type") == "BASE TABLE",
        f"the catalog describes the table model's columns: {columns}",
    )
    view = catalog.get("nodes", {}).get("model.tarn_shop.stg_orders", {})
    check(view.get("metadata", {}).get("type") == "VIEW", f"and knows a view: {view.get('metadata')}")

# a failing test fails dbt test
cur.execute("INSERT INTO analytics.orders VALUES (9, 'mallory', 1.00, DATE '2026-04-03')")
ok, statuses = dbt("test", "--select", "stg_orders")
check(not ok and any(s == "fail" for _, s in statuses), f"a test that finds bad rows fails: {statuses}")

print(f"dbt: {len(failures)} failures")
sys.exit(1 if failures else 0)
