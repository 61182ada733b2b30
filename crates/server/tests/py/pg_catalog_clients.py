"""SQLAlchemy 2 (over psycopg2 and psycopg 3) and pandas as a notebook uses them, against a table
in the Glue catalog: the inspector browses schemas, tables, views and columns through tarn's
pg_catalog; pandas.read_sql and read_sql_table return native values (Decimal, date, datetime);
a nested transaction (a savepoint) recovers from an error; a long query is cancelled with
psycopg's cancel and the session goes on; current_user is the access key.
Usage: pg_catalog_clients.py HOST PORT USER PASSWORD"""
import datetime
import decimal
import sys
import threading
import time
from urllib.parse import quote_plus

import pandas as pd
import psycopg
import sqlalchemy as sa

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
dsn = f"host={host} port={port} user={user} password={password} dbname=default sslmode=disable"

setup = psycopg.connect(dsn, autocommit=True)
setup.execute(
    "CREATE EXTERNAL TABLE readings (id int, name string, price decimal(10,2), d date, ts timestamp, "
    "ok boolean, score double) STORED AS PARQUET LOCATION 's3://pgcat/readings/'"
)
setup.execute(
    "INSERT INTO readings VALUES (1, 'a', 1.50, DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05', true, 0.5), "
    "(2, 'b', 2.25, DATE '2024-02-03', TIMESTAMP '2024-02-03 04:05:06', false, NULL)"
)
setup.execute("CREATE VIEW cheap AS SELECT id, name FROM readings WHERE price < 2")
# a second Glue database: another schema to browse
setup.execute("CREATE DATABASE lake")
setup.execute("CREATE EXTERNAL TABLE lake.events (id bigint, kind string) STORED AS PARQUET LOCATION 's3://pgcat/events/'")

# Redshift's UNLOAD to Parquet, partitioned, read back as a table
setup.execute(
    "UNLOAD ('SELECT id, price, name FROM readings') TO 's3://pgcat/unloaded/' "
    "IAM_ROLE 'arn:aws:iam::000000000000:role/unloader' FORMAT AS PARQUET PARTITION BY (name) MANIFEST"
)
setup.execute(
    "CREATE EXTERNAL TABLE unloaded (id int, price decimal(10,2)) PARTITIONED BY (name string) "
    "STORED AS PARQUET LOCATION 's3://pgcat/unloaded/'"
)
setup.execute("MSCK REPAIR TABLE unloaded")
back = setup.execute("SELECT id, price, name FROM unloaded ORDER BY id").fetchall()
check(back == [(1, decimal.Decimal("1.50"), "a"), (2, decimal.Decimal("2.25"), "b")], f"UNLOAD round trip: {back}")
try:
    setup.execute("UNLOAD ('SELECT 1') TO 's3://pgcat/unloaded/' IAM_ROLE default FORMAT PARQUET")
    check(False, "UNLOAD into a destination that holds objects is refused")
except psycopg.Error as e:
    check("not empty" in str(e), f"UNLOAD into a taken destination: {e}")
setup.execute("UNLOAD ('SELECT id, name FROM readings ORDER BY id') TO 's3://pgcat/csv/part_' "
              "IAM_ROLE default CSV HEADER PARALLEL OFF")
setup.execute("CREATE EXTERNAL TABLE unloaded_csv (id int, name string) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
              "LOCATION 's3://pgcat/csv/' TBLPROPERTIES ('skip.header.line.count'='1')")
back = setup.execute("SELECT id, name FROM unloaded_csv ORDER BY id").fetchall()
check(back == [(1, "a"), (2, "b")], f"UNLOAD to CSV with a header: {back}")

# Redshift's COPY from S3: CSV (gzip, a header), JSON 'auto', Parquet with a column list; a
# malformed row fails the COPY with its line and loads nothing
setup.execute("CREATE EXTERNAL TABLE loaded (id int, name string, price decimal(10,2)) STORED AS PARQUET "
              "LOCATION 's3://pgcat/loaded/'")
setup.execute("UNLOAD ('SELECT id, name, price FROM readings') TO 's3://pgcat/in/csv/part_' IAM_ROLE default "
              "CSV HEADER GZIP")
setup.execute("COPY loaded FROM 's3://pgcat/in/csv/part_' IAM_ROLE 'arn:aws:iam::000000000000:role/loader' "
              "FORMAT AS CSV GZIP IGNOREHEADER 1")
setup.execute("UNLOAD ('SELECT id + 10 AS id, name, price FROM readings') TO 's3://pgcat/in/json/' IAM_ROLE default "
              "FORMAT JSON")
setup.execute("COPY loaded FROM 's3://pgcat/in/json/' IAM_ROLE default FORMAT AS JSON 'auto'")
setup.execute("UNLOAD ('SELECT id + 20 AS id, price FROM readings') TO 's3://pgcat/in/pq/' IAM_ROLE default "
              "FORMAT PARQUET")
setup.execute("COPY loaded (id, price) FROM 's3://pgcat/in/pq/' IAM_ROLE default FORMAT AS PARQUET")
back = setup.execute("SELECT id, name, price FROM loaded ORDER BY id").fetchall()
want = [(1, "a", decimal.Decimal("1.50")), (2, "b", decimal.Decimal("2.25")), (11, "a", decimal.Decimal("1.50")),
        (12, "b", decimal.Decimal("2.25")), (21, None, decimal.Decimal("1.50")), (22, None, decimal.Decimal("2.25"))]
check(back == want, f"COPY from CSV (gzip), JSON and Parquet: {back}")
setup.execute("UNLOAD ('SELECT * FROM (VALUES (''4'', ''w'', ''1.0''), (''five'', ''v'', ''2.0'')) AS v(id, name, price) "
              "ORDER BY name DESC') TO 's3://pgcat/in/bad2/' IAM_ROLE default CSV PARALLEL OFF")
try:
    setup.execute("COPY loaded FROM 's3://pgcat/in/bad2/' IAM_ROLE default CSV")
    check(False, "a malformed row fails the COPY")
except psycopg.Error as e:
    check("line 2" in str(e) and "five" in str(e), f"a malformed row is reported with its line: {e}")
count = setup.execute("SELECT count(*) FROM loaded").fetchone()[0]
check(count == 6, f"a failed COPY loads no rows ({count})")
err = setup.execute(
    "SELECT tbl, filename, line_number, colname, type, raw_field_value, err_code, err_reason "
    "FROM stl_load_errors ORDER BY query DESC LIMIT 1").fetchone()
check(err is not None and err[0] == "default.loaded" and err[1].startswith("s3://pgcat/in/bad2/") and err[2] == 2
      and err[3] == "id" and err[4] == "int" and err[5] == "five" and err[6] == 1207 and "five" in err[7],
      f"STL_LOAD_ERRORS has the failed row: file, line, column, value, code, reason: {err}")
try:
    setup.execute("COPY loaded FROM 's3://pgcat/in/none/' IAM_ROLE default CSV")
    check(False, "an empty prefix is an error")
except psycopg.Error as e:
    check("does not exist" in str(e), f"COPY from a prefix with nothing: {e}")

for driver in ["postgresql+psycopg2", "postgresql+psycopg"]:
    engine = sa.create_engine(f"{driver}://{user}:{quote_plus(password)}@{host}:{port}/default")
    insp = sa.inspect(engine)
    check("default" in insp.get_schema_names(), f"{driver}: the default database is a schema")
    check(not any(s.startswith("pg_") for s in insp.get_schema_names()), f"{driver}: no pg_ schema listed")
    tables = ["loaded", "readings", "unloaded", "unloaded_csv"]
    check(insp.get_table_names(schema="default") == tables, f"{driver}: tables {insp.get_table_names(schema='default')}")
    check(sorted(insp.get_table_names()) == tables, f"{driver}: tables of the default schema (unordered, as in PostgreSQL): {insp.get_table_names()}")
    check(insp.get_view_names(schema="default") == ["cheap"], f"{driver}: views {insp.get_view_names(schema='default')}")
    check("lake" in insp.get_schema_names(), f"{driver}: every Glue database is a schema: {insp.get_schema_names()}")
    check(insp.get_table_names(schema="lake") == ["events"], f"{driver}: tables of lake {insp.get_table_names(schema='lake')}")
    check([c["name"] for c in insp.get_columns("events", schema="lake")] == ["id", "kind"], f"{driver}: lake.events' columns")
    check(insp.has_table("readings", schema="default") and not insp.has_table("nope", schema="default"),
          f"{driver}: has_table")
    cols = {c["name"]: type(c["type"]).__name__ for c in insp.get_columns("readings", schema="default")}
    want = {"id": "INTEGER", "name": "TEXT", "price": "NUMERIC", "d": "DATE", "ts": "TIMESTAMP", "ok": "BOOLEAN",
            "score": "DOUBLE_PRECISION"}
    check(cols == want, f"{driver}: columns and their types {cols}")
    check(insp.get_pk_constraint("readings", schema="default")["constrained_columns"] == [], f"{driver}: no primary key")
    check(insp.get_indexes("readings", schema="default") == [], f"{driver}: no indexes")
    check(insp.get_foreign_keys("readings", schema="default") == [], f"{driver}: no foreign keys")

    df = pd.read_sql("SELECT * FROM readings ORDER BY id", engine)
    check(list(df["id"]) == [1, 2] and list(df["name"]) == ["a", "b"], f"{driver}: pandas.read_sql rows")
    # pandas makes decimals floats by default (coerce_float); asked not to, it keeps the Decimal
    check(df["price"][0] == 1.5, f"{driver}: a decimal ({df['price'][0]!r})")
    exact = pd.read_sql("SELECT price FROM readings ORDER BY id", engine, coerce_float=False)
    check(exact["price"][0] == decimal.Decimal("1.50") and isinstance(exact["price"][0], decimal.Decimal),
          f"{driver}: a decimal is a Decimal ({exact['price'][0]!r})")
    check(df["d"][0] == datetime.date(2024, 1, 2), f"{driver}: a date is a date ({df['d'][0]!r})")
    check(df["ts"][0] == pd.Timestamp("2024-01-02 03:04:05"), f"{driver}: a timestamp ({df['ts'][0]!r})")
    check(pd.isna(df["score"][1]), f"{driver}: NULL is missing")
    table = pd.read_sql_table("readings", engine, schema="default")
    check(len(table) == 2 and list(table.columns) == list(want), f"{driver}: pandas.read_sql_table {list(table.columns)}")
    param = pd.read_sql(sa.text("SELECT name FROM readings WHERE id = :i"), engine, params={"i": 2})
    check(list(param["name"]) == ["b"], f"{driver}: a bound parameter")
    # a transaction through SQLAlchemy: one rolled back, one committed (engine.begin)
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE sa_t (a int)"))
        conn.execute(sa.text("INSERT INTO sa_t VALUES (1)"))
        conn.rollback()
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE sa_t (a int)"))
        conn.execute(sa.text("INSERT INTO sa_t VALUES (:a)"), [{"a": 2}, {"a": 3}])
    back = pd.read_sql("SELECT a FROM sa_t ORDER BY a", engine)
    check(list(back["a"]) == [2, 3], f"{driver}: a rolled-back transaction left nothing, a committed one its rows")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE sa_t"))
    with engine.connect() as conn:
        who = conn.execute(sa.text("SELECT current_user")).scalar()
        check(who == user, f"{driver}: current_user is the access key ({who})")
        check(conn.execute(sa.text("SELECT has_table_privilege('readings', 'SELECT')")).scalar() is True,
              f"{driver}: has_table_privilege")
    engine.dispose()

# psycopg 3: a nested transaction block is a savepoint; an error inside it is rolled back to it
conn = psycopg.connect(dsn)
conn.execute("SELECT 1")
try:
    with conn.transaction():
        conn.execute("SELECT * FROM no_such_table")
    check(False, "the failing statement raises")
except psycopg.errors.UndefinedTable:
    pass
check(conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS,
      "after ROLLBACK TO SAVEPOINT the transaction goes on")
check(conn.execute("SELECT count(*) FROM readings").fetchone() == (2,), "and runs queries")
conn.commit()

# native values in the text and the binary format (psycopg's binary cursors)
for binary in (False, True):
    row = conn.cursor(binary=binary).execute(
        "SELECT price * 3, CAST(-0.0001 AS DECIMAL(10,4)), CAST('10:20:30.5' AS TIME), d, ts, ok, CAST(NULL AS DECIMAL(5,1)) "
        "FROM readings WHERE id = 1"
    ).fetchone()
    want = (decimal.Decimal("4.50"), decimal.Decimal("-0.0001"), datetime.time(10, 20, 30, 500000),
            datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5), True, None)
    check(row == want, f"{'binary' if binary else 'text'} values: {row}")
conn.commit()

# the Redshift functions analysts use
row = conn.execute(
    "SELECT DATEADD(month, 1, TIMESTAMP '2024-01-31 10:00:00'), DATEADD(day, 2, d), "
    "DATEDIFF(day, DATE '2024-01-01', d), DATEDIFF(year, TIMESTAMP '2020-12-31 23:59:59', TIMESTAMP '2021-01-01 00:00:00'), "
    "CONVERT_TIMEZONE('America/New_York', TIMESTAMP '2024-07-01 12:00:00'), "
    "CONVERT_TIMEZONE('UTC', 'Asia/Tokyo', TIMESTAMP '2024-01-01 00:00:00'), NVL(CAST(score AS VARCHAR), 'none'), "
    "GETDATE() IS NOT NULL AS now_set, SYSDATE IS NOT NULL AS sys_set FROM readings WHERE id = 2"
).fetchone()
want = (datetime.datetime(2024, 2, 29, 10, 0), datetime.datetime(2024, 2, 5, 0, 0), 33, 1,
        datetime.datetime(2024, 7, 1, 8, 0), datetime.datetime(2024, 1, 1, 9, 0), "none", True, True)
check(row == want, f"DATEADD, DATEDIFF, CONVERT_TIMEZONE, NVL, GETDATE, SYSDATE: {row}")
row = conn.execute(
    "SELECT LISTAGG(name, '|') WITHIN GROUP (ORDER BY id DESC), APPROXIMATE COUNT(DISTINCT name) FROM readings"
).fetchone()
check(row == ("b|a", 2), f"LISTAGG ... WITHIN GROUP, APPROXIMATE COUNT(DISTINCT): {row}")
try:
    conn.execute("SELECT DATEADD(fortnight, 1, d) FROM readings").fetchone()
    check(False, "an unknown date part is an error")
except psycopg.Error as e:
    check("not a date part" in str(e), f"an unknown date part: {e}")
conn.rollback()

# COPY ... TO STDOUT, inside the driver's transaction (a read)
cur = conn.cursor()
with cur.copy("COPY (SELECT id, name, price, ok, score FROM readings ORDER BY id) TO STDOUT WITH (FORMAT CSV, HEADER)") as cp:
    data = b"".join(bytes(chunk) for chunk in cp)
check(data == b"id,name,price,ok,score\n1,a,1.50,t,0.5\n2,b,2.25,f,\n", f"COPY TO STDOUT as CSV with a header: {data!r}")
check(cur.rowcount == 2, f"COPY's row count is the rows' ({cur.rowcount})")
with cur.copy("COPY readings (id, name) TO STDOUT") as cp:
    rows = list(cp.rows())
check(rows == [("1", "a"), ("2", "b")], f"COPY a table's columns in the text format: {rows}")
conn.commit()
try:
    with cur.copy("COPY readings FROM STDIN") as cp:
        cp.write(b"3\n")
    check(False, "COPY FROM is refused")
except psycopg.errors.FeatureNotSupported as e:
    check("COPY FROM is not supported" in str(e), f"COPY FROM is refused: {e}")
conn.rollback()
import io  # noqa: E402
import psycopg2  # noqa: E402
old = psycopg2.connect(dsn)
buf = io.StringIO()
old.cursor().copy_expert("COPY (SELECT id, name FROM readings ORDER BY id) TO STDOUT WITH CSV HEADER", buf)
check(buf.getvalue() == "id,name\n1,a\n2,b\n", f"psycopg2's copy_expert: {buf.getvalue()!r}")
old.close()

# a long query, cancelled from another thread, as psycopg's Connection.cancel_safe() does
timer = threading.Timer(1.0, conn.cancel_safe)
started = time.monotonic()
timer.start()
try:
    conn.execute("SELECT count(*) FROM generate_series(1, 20000000000)").fetchone()
    check(False, "the long query is cancelled")
except psycopg.errors.QueryCanceled as e:
    took = time.monotonic() - started
    check(took < 20, f"cancelled after {took:.1f}s: {e}")
conn.rollback()
check(conn.execute("SELECT 40 + 2").fetchone() == (42,), "the session goes on after a cancel")
conn.close()

print(f"pg catalog clients: {len(failures)} failures")
sys.exit(1 if failures else 0)
