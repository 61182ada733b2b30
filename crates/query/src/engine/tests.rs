use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use tarn_catalog::{Column, Database, Partition, SerDeInfo, StorageDescriptor, Table};

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = tarn_store::Store::open(dir.path()).unwrap();
    let objects = Objects::open(store.clone(), "us-east-1").await.unwrap();
    objects.create_bucket("data").await.unwrap();
    let catalog = Catalog::open(store, "000000000000").await.unwrap();
    catalog.create_database(Database { name: "db".into(), ..Database::default() }).await.unwrap();
    let engine = Engine::new(objects, catalog).unwrap();
    Fixture { _dir: dir, engine }
}

async fn put(engine: &Engine, key: &str, bytes: Vec<u8>) {
    let store = engine.registry().bucket("data");
    store.put(&store::path_of(key), bytes.into()).await.unwrap();
}

async fn rows(engine: &Engine, sql: &str) -> String {
    let out = engine.execute(sql, Some("db")).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batches: Vec<RecordBatch> = out.stream.try_collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

fn csv_table(name: &str, location: &str, cols: &[(&str, &str)], keys: &[(&str, &str)], header: bool) -> Table {
    let mut sd = StorageDescriptor {
        columns: cols.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
        location: Some(location.into()),
        input_format: Some("org.apache.hadoop.mapred.TextInputFormat".into()),
        serde_info: Some(SerDeInfo {
            serialization_library: Some("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe".into()),
            parameters: [("field.delim".to_string(), ",".to_string())].into(),
            ..SerDeInfo::default()
        }),
        ..StorageDescriptor::default()
    };
    if header {
        sd.parameters.insert("skip.header.line.count".into(), "1".into());
    }
    Table {
        name: name.into(),
        storage_descriptor: Some(sd),
        partition_keys: keys.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
        ..Table::default()
    }
}

/// `batch` as a Parquet file.
fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    buf
}

/// A table of `columns` at `location` read by the SerDe `library`.
fn serde_table(name: &str, columns: &[(&str, &str)], location: &str, library: &str) -> Table {
    Table {
        name: name.into(),
        storage_descriptor: Some(StorageDescriptor {
            columns: columns.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
            location: Some(location.into()),
            serde_info: Some(SerDeInfo { serialization_library: Some(library.into()), ..SerDeInfo::default() }),
            ..StorageDescriptor::default()
        }),
        ..Table::default()
    }
}

#[tokio::test]
async fn csv_tables_follow_lazy_simple_serde() {
    let f = fixture().await;
    put(
        &f.engine,
        "events/a.csv",
        b"id,label,score\n1,one,1.5\n2,two,oops\nx,three,3\n4,short\n5,long,5,extra,more\n".to_vec(),
    )
    .await;
    let t = csv_table(
        "events",
        "s3://data/events/",
        &[("id", "bigint"), ("label", "string"), ("score", "double")],
        &[],
        true,
    );
    f.engine.catalog().create_table("db", t).await.unwrap();
    let out = rows(&f.engine, "SELECT id, label, score FROM events ORDER BY label").await;
    // unparseable values and missing fields are NULL and extra fields are ignored, as Hive's
    // LazySimpleSerDe reads them
    let expected = "\
+----+-------+-------+
| id | label | score |
+----+-------+-------+
| 5  | long  | 5.0   |
| 1  | one   | 1.5   |
| 4  | short |       |
|    | three | 3.0   |
| 2  | two   |       |
+----+-------+-------+";
    assert_eq!(out, expected);
    let out = rows(&f.engine, "SELECT count(*) AS n FROM awsdatacatalog.db.events WHERE score > 1").await;
    assert!(out.contains("| 3 |"), "{out}");
}

#[tokio::test]
async fn parquet_tables_and_partition_pruning() {
    let f = fixture().await;
    let schema =
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("v", DataType::Utf8, true)]));
    for (year, ids) in [("2025", [1_i64, 2]), ("2026", [3, 4])] {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(StringArray::from(vec!["a", "b"]))],
        )
        .unwrap();
        put(&f.engine, &format!("t/year={year}/part-0.parquet"), parquet_bytes(&batch)).await;
    }
    let table = Table {
        partition_keys: vec![Column::new("year", "int")],
        ..serde_table(
            "t",
            &[("id", "bigint"), ("v", "string")],
            "s3://data/t/",
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        )
    };
    let c = f.engine.catalog();
    c.create_table("db", table).await.unwrap();
    // only 2025 is registered: 2026's files are not part of the table yet
    c.create_partition("db", "t", Partition { values: vec!["2025".into()], ..Partition::default() }).await.unwrap();
    let out = rows(&f.engine, "SELECT year, sum(id) AS s FROM t GROUP BY year").await;
    assert!(out.contains("| 2025 | 3 |"), "{out}");
    assert!(!out.contains("2026"), "{out}");
    c.create_partition("db", "t", Partition { values: vec!["2026".into()], ..Partition::default() }).await.unwrap();
    let out = rows(&f.engine, "SELECT id FROM t WHERE year > 2025 ORDER BY id").await;
    assert!(out.contains("| 3  |") && out.contains("| 4  |") && !out.contains("| 1  |"), "{out}");
    let explain = rows(&f.engine, "EXPLAIN SELECT id FROM t WHERE year = 2026").await;
    assert!(explain.contains("year=2026") && !explain.contains("year=2025"), "pruned: {explain}");
}

#[tokio::test]
async fn errors_name_the_problem() {
    let f = fixture().await;
    let err = f.engine.execute("SELEC 1", Some("db")).await.err().unwrap();
    assert!(matches!(err, QueryError::User(_)), "{err:?}");
    let err = f.engine.execute("SELECT * FROM nosuch", Some("db")).await.err().unwrap();
    assert!(err.to_string().contains("nosuch"), "{err}");
    put(&f.engine, "bad/x.parquet", b"this is not parquet".to_vec()).await;
    let mut t = csv_table("bad", "s3://data/bad/", &[("id", "bigint")], &[], false);
    t.storage_descriptor.as_mut().unwrap().serde_info = Some(SerDeInfo {
        serialization_library: Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe".into()),
        ..SerDeInfo::default()
    });
    f.engine.catalog().create_table("db", t).await.unwrap();
    let result = match f.engine.execute("SELECT * FROM bad", Some("db")).await {
        Err(e) => e,
        Ok(out) => match out.stream.try_collect::<Vec<_>>().await {
            Err(e) => QueryError::from(e),
            Ok(_) => panic!("a corrupt parquet file read"),
        },
    };
    assert!(
        matches!(&result, QueryError::Data(m) if m.contains("s3://data/bad/x.parquet")),
        "the object is named: {result:?}"
    );
}

async fn strings(engine: &Engine, sql: &str) -> Vec<Vec<String>> {
    let out =
        engine.execute_with(sql, Some("db"), Some("s3://data/ctas/")).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batches: Vec<RecordBatch> = out.stream.try_collect().await.unwrap();
    let mut rows = Vec::new();
    for b in batches {
        let cols: Vec<_> =
            b.columns().iter().map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap()).collect();
        for r in 0..b.num_rows() {
            rows.push(
                cols.iter()
                    .map(|c| {
                        let s = c.as_any().downcast_ref::<StringArray>().unwrap();
                        if s.is_null(r) { "NULL".to_string() } else { s.value(r).to_string() }
                    })
                    .collect(),
            );
        }
    }
    rows
}

#[tokio::test]
async fn athena_ddl_ctas_insert_and_views() {
    let f = fixture().await;
    let e = &f.engine;
    put(e, "sales/year=2025/month=1/a.csv", b"1,apple,2.5\n2,pear,1.0\n".to_vec()).await;
    put(e, "sales/year=2026/month=2/b.csv", b"3,fig,4.0\n".to_vec()).await;
    strings(
        e,
        "CREATE EXTERNAL TABLE IF NOT EXISTS sales (id bigint, item string, price double) \
         PARTITIONED BY (year string, month int) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' \
         STORED AS TEXTFILE LOCATION 's3://data/sales/'",
    )
    .await;
    assert!(strings(e, "SELECT * FROM sales").await.is_empty(), "no partitions registered yet");
    let repaired = strings(e, "MSCK REPAIR TABLE sales").await;
    assert_eq!(repaired.len(), 2, "{repaired:?}");
    assert_eq!(strings(e, "SHOW PARTITIONS sales").await, vec![vec!["year=2025/month=1"], vec!["year=2026/month=2"]]);
    let sum = strings(e, "SELECT year, sum(price) FROM sales GROUP BY year ORDER BY year").await;
    assert_eq!(sum, vec![vec!["2025", "3.5"], vec!["2026", "4.0"]]);
    strings(e, "ALTER TABLE sales DROP PARTITION (year='2026', month=2)").await;
    assert_eq!(strings(e, "SELECT count(*) FROM sales").await, vec![vec!["2"]]);
    strings(e, "ALTER TABLE sales ADD PARTITION (year='2026', month=2) LOCATION 's3://data/sales/year=2026/month=2/'")
        .await;
    assert_eq!(strings(e, "SELECT count(*) FROM sales").await, vec![vec!["3"]]);
    let described = strings(e, "DESCRIBE sales").await;
    assert_eq!(described[0], vec!["id", "bigint", ""]);
    assert!(described.iter().any(|r| r[0] == "# Partition Information"));
    assert_eq!(strings(e, "SHOW TABLES").await, vec![vec!["sales"]]);
    assert!(strings(e, "SHOW DATABASES").await.contains(&vec!["db".to_string()]));
    // what PostgreSQL clients ask on connecting
    let v = strings(e, "SELECT pg_catalog.version(), version(), current_database(), current_schema()").await;
    assert!(v[0][0].starts_with("PostgreSQL 14.0 ") && v[0][0] == v[0][1], "{v:?}");
    assert_eq!(v[0][2..], ["db".to_string(), "db".to_string()]);
    // with the implicit schemas (true), pg_catalog comes first, as in PostgreSQL
    assert_eq!(
        strings(e, "SELECT current_schemas(true)[1], current_schemas(true)[2]").await,
        vec![vec!["pg_catalog", "db"]]
    );
    assert_eq!(
        strings(e, "SELECT current_schemas(false)[1], cardinality(current_schemas(false))").await,
        vec![vec!["db", "1"]]
    );

    // CTAS, partitioned, into the default location; then INSERT INTO adds rows
    strings(e, "CREATE TABLE by_year WITH (format = 'PARQUET', partitioned_by = ARRAY['year']) AS SELECT id, price, year FROM sales").await;
    let t = e.catalog().get_table("db", "by_year").unwrap();
    assert_eq!(t.partition_keys.len(), 1);
    assert_eq!(
        strings(e, "SELECT year, count(*) FROM by_year GROUP BY year ORDER BY year").await,
        vec![vec!["2025", "2"], vec!["2026", "1"]]
    );
    strings(e, "INSERT INTO by_year SELECT 9, 9.5, '2027'").await;
    assert_eq!(strings(e, "SELECT sum(id) FROM by_year").await, vec![vec!["15"]]);
    let err = e
        .execute_with("CREATE TABLE by_year AS SELECT 1 AS x", Some("db"), Some("s3://data/ctas/"))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("already exists"), "{err}");

    // views
    strings(e, "CREATE VIEW cheap AS SELECT item FROM sales WHERE price < 3").await;
    assert_eq!(strings(e, "SELECT item FROM cheap ORDER BY item").await, vec![vec!["apple"], vec!["pear"]]);
    strings(e, "DROP VIEW cheap").await;
    assert!(e.execute("SELECT * FROM cheap", Some("db")).await.is_err());
    strings(e, "DROP TABLE sales").await;
    assert!(e.execute("SELECT * FROM sales", Some("db")).await.is_err());
    let bad = e.execute("CREATE EXTERNAL TABLE x (a int) STORED AS PARQUET", Some("db")).await.err().unwrap();
    assert!(bad.to_string().contains("LOCATION"), "{bad}");
}

#[tokio::test]
async fn json_tables_read_their_types() {
    let f = fixture().await;
    let e = &f.engine;
    put(e, "ev/part-0.json", b"{\"id\": 1, \"user\": {\"name\": \"a\", \"age\": 30}, \"tags\": [\"x\"], \"ok\": true}\n{\"id\": 2, \"user\": {\"name\": \"b\", \"age\": 40}, \"tags\": [], \"ok\": false}\n".to_vec()).await;
    strings(
        e,
        "CREATE EXTERNAL TABLE ev (id bigint, user struct<name:string,age:bigint>, tags array<string>, ok boolean) \
         ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://data/ev/'",
    )
    .await;
    let rows = strings(e, "SELECT id, user['name'], cardinality(tags), ok FROM ev ORDER BY id").await;
    assert_eq!(rows, vec![vec!["1", "a", "1", "true"], vec!["2", "b", "0", "false"]]);
}

/// Spark and pandas write column names as given (`userId`); Glue and Athena lowercase them and
/// match Parquet columns ignoring case.
#[tokio::test]
async fn parquet_columns_match_the_table_ignoring_case() {
    let f = fixture().await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("UserId", DataType::Int64, false),
        Field::new("eventName", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(vec![1_i64, 2, 3])), Arc::new(StringArray::from(vec!["a", "b", "c"]))],
    )
    .unwrap();
    put(&f.engine, "mixed/part-0.parquet", parquet_bytes(&batch)).await;
    // a second file written with other casing and a column of its own
    let schema = Arc::new(Schema::new(vec![
        Field::new("userid", DataType::Int64, false),
        Field::new("EVENTNAME", DataType::Utf8, true),
        Field::new("extra", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![4_i64])),
            Arc::new(StringArray::from(vec!["d"])),
            Arc::new(StringArray::from(vec!["x"])),
        ],
    )
    .unwrap();
    put(&f.engine, "mixed/part-1.parquet", parquet_bytes(&batch)).await;
    let table = serde_table(
        "mixed",
        &[("userid", "bigint"), ("eventname", "string")],
        "s3://data/mixed/",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    );
    f.engine.catalog().create_table("db", table).await.unwrap();
    let out = rows(&f.engine, "SELECT userid, eventname FROM mixed ORDER BY userid").await;
    for (id, name) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
        assert!(out.contains(&format!("| {id}      | {name}         |")), "{out}");
    }
    // filters (pushed into the Parquet scan) see the same columns
    let out = rows(&f.engine, "SELECT eventname FROM mixed WHERE userid >= 2 AND eventname <> 'c' ORDER BY 1").await;
    assert!(out.contains("| b ") && out.contains("| d ") && !out.contains("| a ") && !out.contains("| c "), "{out}");
    let out = rows(&f.engine, "SELECT count(*) AS n FROM mixed WHERE userid > 1").await;
    assert!(out.contains("| 3 |"), "{out}");
}

/// ORC tables (what Firehose's ORC serializer writes and crawlers classify as `orc`): columns by
/// name ignoring case, cast to the table's types, missing ones NULL, hidden files skipped.
#[tokio::test]
async fn orc_tables_are_read() {
    let f = fixture().await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("ID", DataType::Int32, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("unused", DataType::Utf8, true),
    ]));
    for (file, ids, names) in [("a", vec![1, 2], vec!["one", "two"]), ("b", vec![3], vec!["three"])] {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(datafusion::arrow::array::Int32Array::from(ids)),
                Arc::new(StringArray::from(names.clone())),
                Arc::new(StringArray::from(names)),
            ],
        )
        .unwrap();
        let mut buf = Vec::new();
        let mut w = orc_rust::ArrowWriterBuilder::new(&mut buf, schema.clone()).try_build().unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        put(&f.engine, &format!("orc/{file}.orc"), buf).await;
    }
    put(&f.engine, "orc/_SUCCESS", b"".to_vec()).await;
    put(&f.engine, "orc/.part.crc", b"not orc".to_vec()).await;
    let table = serde_table(
        "o",
        &[("id", "bigint"), ("name", "string"), ("score", "double")],
        "s3://data/orc/",
        "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
    );
    f.engine.catalog().create_table("db", table).await.unwrap();
    let out = rows(&f.engine, "SELECT id, name, score FROM o ORDER BY id").await;
    let expected = "\
+----+-------+-------+
| id | name  | score |
+----+-------+-------+
| 1  | one   |       |
| 2  | two   |       |
| 3  | three |       |
+----+-------+-------+";
    assert_eq!(out, expected);
    let out = rows(&f.engine, "SELECT count(*) AS n, sum(id) AS s FROM o WHERE name <> 'two'").await;
    assert!(out.contains("| 2 | 4 |"), "{out}");
    // a file that is not ORC fails the query naming it
    put(&f.engine, "orc/c.orc", b"this is not an ORC file".to_vec()).await;
    let err = match f.engine.execute("SELECT count(*) FROM o", Some("db")).await {
        Err(e) => e.to_string(),
        Ok(out) => out.stream.try_collect::<Vec<_>>().await.expect_err("a corrupt file").to_string(),
    };
    assert!(err.contains("s3://data/orc/c.orc"), "{err}");
}

/// Avro tables (what crawlers classify as `avro`): columns by name, typed as the table says.
#[tokio::test]
async fn avro_tables_are_read() {
    let f = fixture().await;
    let schema = Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]);
    let batch = RecordBatch::try_new(
        Arc::new(schema.clone()),
        vec![
            Arc::new(Int64Array::from(vec![1_i64, 2, 3])),
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
        ],
    )
    .unwrap();
    let mut w = arrow_avro::writer::AvroWriter::new(Vec::new(), schema).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    put(&f.engine, "avro/part-0.avro", w.into_inner()).await;
    let table = serde_table(
        "a",
        &[("id", "bigint"), ("name", "string")],
        "s3://data/avro/",
        "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
    );
    f.engine.catalog().create_table("db", table).await.unwrap();
    let out = rows(&f.engine, "SELECT id, name FROM a WHERE id > 1 ORDER BY id").await;
    let expected = "\
+----+------+
| id | name |
+----+------+
| 2  |      |
| 3  | c    |
+----+------+";
    assert_eq!(out, expected);
}

/// A join that keeps few keys drops the other rows right over the probe side's scan; one that
/// keeps most lets batches through unlooked-at; both answer exactly.
#[tokio::test]
async fn join_keys_are_filtered_at_the_scan() {
    let f = fixture().await;
    let facts =
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false), Field::new("v", DataType::Int64, false)]));
    let ids: Vec<i64> = (0..100_000).collect();
    let batch = RecordBatch::try_new(
        facts,
        vec![
            Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i % 1000))),
            Arc::new(Int64Array::from(ids.clone())),
        ],
    )
    .unwrap();
    put(&f.engine, "facts/part-0.parquet", parquet_bytes(&batch)).await;
    let dims =
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false), Field::new("tag", DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(
        dims,
        vec![
            Arc::new(Int64Array::from_iter_values(0..1000)),
            Arc::new(StringArray::from_iter_values((0..1000).map(|k| if k < 5 { "hot" } else { "cold" }))),
        ],
    )
    .unwrap();
    put(&f.engine, "dims/part-0.parquet", parquet_bytes(&batch)).await;
    let parquet = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
    let c = f.engine.catalog();
    c.create_table("db", serde_table("facts", &[("k", "bigint"), ("v", "bigint")], "s3://data/facts/", parquet))
        .await
        .unwrap();
    c.create_table("db", serde_table("dims", &[("k", "bigint"), ("tag", "string")], "s3://data/dims/", parquet))
        .await
        .unwrap();

    for tag in ["hot", "cold"] {
        let keep = |k: i64| (k < 5) == (tag == "hot");
        let sql =
            format!("SELECT count(*) AS n, sum(f.v) AS s FROM facts f JOIN dims d ON f.k = d.k WHERE d.tag = '{tag}'");
        let kept: Vec<i64> = ids.iter().copied().filter(|i| keep(i % 1000)).collect();
        let want = format!("| {} | {} |", kept.len(), kept.iter().sum::<i64>());
        let out = rows(&f.engine, &sql).await;
        assert!(out.contains(&want), "{tag}: want {want} in {out}");
        let explain = rows(&f.engine, &format!("EXPLAIN ANALYZE {sql}")).await;
        let metric = |name: &str| {
            let at = explain.find(&format!("{name}=")).unwrap_or_else(|| panic!("{name} in {explain}"));
            explain[at + name.len() + 1..].split([',', ']']).next().unwrap().trim().to_string()
        };
        assert!(explain.contains("JoinKeyFilterExec"), "{explain}");
        if tag == "hot" {
            // 99.5% of the facts have no hot key: they stop at the scan
            assert_eq!(metric("rows_dropped"), "99.50 K", "{explain}");
            assert_eq!(metric("rows_let_through_unlooked"), "0", "{explain}");
        } else {
            // the filter keeps 99.5%: after judging it lets the rest through unlooked-at
            assert_ne!(metric("rows_let_through_unlooked"), "0", "{explain}");
        }
    }

    // a computed column under the table column's name (merged into the scan's projection) is
    // not the table's column: filtering on it there would drop rows that join
    let sql = "SELECT count(*) AS n FROM (SELECT k + 1 AS k FROM facts) f JOIN dims d ON f.k = d.k WHERE d.tag = 'hot'";
    let out = rows(&f.engine, sql).await;
    assert!(out.contains("| 400 |"), "{out}");
    // under a LIMIT the filter is not put below it, and LEFT joins keep every row
    let sql = "SELECT count(*) AS n FROM facts f LEFT JOIN dims d ON f.k = d.k AND d.tag = 'hot'";
    assert!(rows(&f.engine, sql).await.contains("| 100000 |"));
    let sql = "SELECT count(*) AS n FROM (SELECT * FROM facts WHERE v >= 0 LIMIT 5000) f JOIN dims d ON f.k = d.k";
    assert!(rows(&f.engine, sql).await.contains("| 5000 |"));
}

/// Text files are decompressed by their extension's codec (gzip, bzip2, zstd, snappy in both
/// framings, deflate), files without one by the table's `compressionType`; a compressed file
/// is read whole even where DataFusion would split a file that large; LZ4 fails by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_text_files_are_read_by_extension() {
    use crate::engine::textcodec::Codec;
    use crate::engine::textcodec::tests::{compress, hadoop_snappy};
    let f = fixture().await;
    let rows = |from: u64, to: u64| (from..to).map(|i| format!("{i},r{i}\n")).collect::<String>().into_bytes();
    put(&f.engine, "logs/a.csv", rows(0, 10)).await;
    put(&f.engine, "logs/b.csv.gz", compress(Codec::Gzip, &rows(10, 20))).await;
    put(&f.engine, "logs/c.snappy", hadoop_snappy(&rows(20, 40), 64)).await;
    put(&f.engine, "logs/d.snappy", compress(Codec::Snappy, &rows(40, 50))).await;
    put(&f.engine, "logs/e.deflate", compress(Codec::Deflate, &rows(50, 60))).await;
    put(&f.engine, "logs/f.bz2", compress(Codec::Bzip2, &rows(60, 70))).await;
    put(&f.engine, "logs/g.zst", compress(Codec::Zstd, &rows(70, 80))).await;
    // over DataFusion's 10 MiB split size once compressed: random values compress poorly
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let big: String = (1000..700_000u64)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{i},{x}\n")
        })
        .collect();
    let big = compress(Codec::Gzip, big.as_bytes());
    assert!(big.len() > 10 << 20, "{} bytes", big.len());
    put(&f.engine, "logs/big.csv.gz", big).await;
    let cols = [("id", "bigint"), ("v", "string")];
    let c = f.engine.catalog();
    c.create_table("db", csv_table("logs", "s3://data/logs/", &cols, &[], false)).await.unwrap();
    let want_sum: u64 = (0..80).sum::<u64>() + (1000..700_000).sum::<u64>();
    let out =
        rows_of(&f.engine, "SELECT count(*) AS n, sum(id) AS s, max(CASE WHEN id < 80 THEN v END) AS m FROM logs")
            .await;
    assert!(out.contains(&format!("| 699080 | {want_sum} | r9 |")), "{out}");
    let explain = rows_of(&f.engine, "EXPLAIN SELECT count(*) FROM logs").await;
    assert!(explain.contains("WholeFiles"), "{explain}");
    assert!(!explain.contains("big.csv.gz:"), "a compressed file split into ranges: {explain}");

    // no extension: the table's compressionType says how
    put(&f.engine, "gz/part-0000", compress(Codec::Gzip, &rows(0, 5))).await;
    let mut t = csv_table("gz", "s3://data/gz/", &cols, &[], false);
    t.parameters.insert("compressionType".into(), "gzip".into());
    c.create_table("db", t).await.unwrap();
    let out = rows_of(&f.engine, "SELECT count(*) AS n, sum(id) AS s FROM gz").await;
    assert!(out.contains("| 5 | 10 |"), "{out}");

    put(&f.engine, "lz/a.csv.lz4", b"not read".to_vec()).await;
    c.create_table("db", csv_table("lz", "s3://data/lz/", &cols, &[], false)).await.unwrap();
    let err = f.engine.execute("SELECT * FROM lz", Some("db")).await.map(|_| ()).err();
    let err = match err {
        Some(e) => e.to_string(),
        None => {
            let out = f.engine.execute("SELECT * FROM lz", Some("db")).await.unwrap();
            out.stream.try_collect::<Vec<_>>().await.err().map(|e| e.to_string()).unwrap_or_default()
        }
    };
    assert!(err.contains("s3://data/lz/a.csv.lz4") && err.contains("LZ4"), "{err}");
}

/// [`rows`] with runs of spaces made one, so cells compare whatever their padding.
async fn rows_of(engine: &Engine, sql: &str) -> String {
    rows(engine, sql)
        .await
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// avg of a decimal(p,s) is a decimal(p,s) rounded half away from zero, as in Athena, in plain
/// and grouped aggregates and in windows; other types average to double.
#[tokio::test]
async fn avg_of_a_decimal_keeps_its_type() {
    let f = fixture().await;
    put(&f.engine, "d/a.csv", b"a,1.00,1\na,2.00,2\na,2.00,2\nb,-1.00,1\nb,-2.00,2\nb,-2.00,2\n".to_vec()).await;
    let cols = [("g", "string"), ("d", "decimal(10,2)"), ("n", "bigint")];
    f.engine.catalog().create_table("db", csv_table("d", "s3://data/d/", &cols, &[], false)).await.unwrap();
    let out = rows_of(
        &f.engine,
        "SELECT avg(d) AS a, arrow_typeof(avg(d)) AS t, avg(n) AS n, avg(DISTINCT d) AS x FROM d WHERE g = 'a'",
    )
    .await;
    assert!(out.contains("| 1.67 | Decimal128(10, 2) | 1.6666666666666667 | 1.50 |"), "{out}");
    let out = rows_of(&f.engine, "SELECT g, avg(d) AS a FROM d GROUP BY g ORDER BY g").await;
    assert!(out.contains("| a | 1.67 |") && out.contains("| b | -1.67 |"), "{out}");
    let out = rows_of(
        &f.engine,
        "SELECT g, d, avg(d) OVER (PARTITION BY g ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS w \
         FROM d WHERE g = 'b' ORDER BY d",
    )
    .await;
    // -2.00; (-2.00 + -2.00) / 2; (-2.00 + -1.00) / 2 = -1.50
    assert!(out.contains("| b | -2.00 | -2.00 |") && out.contains("| b | -1.00 | -1.50 |"), "{out}");
}

/// A WITH clause used twice runs once: the second use replays the first's batches. A clause
/// with a volatile function is run at each use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subplan_used_twice_runs_once() {
    let f = fixture().await;
    let schema =
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false), Field::new("v", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values((0..10_000).map(|i| i % 100))),
            Arc::new(Int64Array::from_iter_values(0..10_000)),
        ],
    )
    .unwrap();
    put(&f.engine, "facts/part-0.parquet", parquet_bytes(&batch)).await;
    let parquet = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
    f.engine
        .catalog()
        .create_table("db", serde_table("facts", &[("k", "bigint"), ("v", "bigint")], "s3://data/facts/", parquet))
        .await
        .unwrap();

    // sum(v) per k: k = 99 has the largest, 99 + 199 + ... + 9999
    let sql = "WITH t AS (SELECT k, sum(v) AS s FROM facts GROUP BY k) \
               SELECT k, s FROM t WHERE s = (SELECT max(s) FROM t)";
    let want: i64 = (0..100).map(|i| 99 + 100 * i).sum();
    let out = rows_of(&f.engine, sql).await;
    assert!(out.contains(&format!("| 99 | {want} |")), "{out}");
    let explain = rows(&f.engine, &format!("EXPLAIN ANALYZE {sql}")).await;
    assert_eq!(explain.matches("SharedSubplanExec: subplan=1").count(), 2, "{explain}");
    let replayed: usize = explain
        .match_indices("batches_replayed=")
        .map(|(at, m)| explain[at + m.len()..].split([',', ']']).next().unwrap().trim().parse::<usize>().unwrap())
        .sum();
    assert!(replayed > 0, "one copy replays the other: {explain}");

    // the aggregate below is shared either way; the projection computing r over it is shared
    // with it only when it is not volatile
    let join = |expr: &str| {
        format!(
            "WITH t AS (SELECT k, {expr} AS r FROM facts GROUP BY k) \
             SELECT count(*) AS n FROM t a JOIN t b ON a.k = b.k AND a.r = b.r"
        )
    };
    let depth = |explain: &str, needle: &str| {
        let plan = &explain[explain.find("physical_plan").unwrap()..];
        plan.lines().filter(|l| l.contains(needle)).map(|l| l.len() - l.trim_start_matches([' ', '|']).len()).min()
    };
    let explain = rows(&f.engine, &format!("EXPLAIN {}", join("sum(v) + 1"))).await;
    let shared = depth(&explain, "SharedSubplanExec").unwrap_or_else(|| panic!("{explain}"));
    assert!(shared < depth(&explain, "+ 1 as r").unwrap(), "{explain}");
    assert!(rows_of(&f.engine, &join("sum(v) + 1")).await.contains("| 100 |"));
    let explain = rows(&f.engine, &format!("EXPLAIN {}", join("sum(v) + random()"))).await;
    let shared = depth(&explain, "SharedSubplanExec").unwrap_or_else(|| panic!("{explain}"));
    assert!(shared > depth(&explain, "random() as r").unwrap(), "{explain}");
    // a scan and filter read alike twice are not shared: each copy keeps its join filters
    let sql = "WITH t AS (SELECT k, v FROM facts WHERE v < 5000) \
               SELECT count(*) AS n FROM t a JOIN t b ON a.k = b.k AND a.v = b.v";
    assert!(!rows(&f.engine, &format!("EXPLAIN {sql}")).await.contains("SharedSubplanExec"));
    assert!(rows_of(&f.engine, sql).await.contains("| 5000 |"));
}

/// Decimal arithmetic over every row (projections, aggregate arguments) takes the fast path
/// and gives arrow's answer.
#[tokio::test]
async fn decimal_arithmetic_is_exact() {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::physical_plan::aggregates::AggregateExec;

    let f = fixture().await;
    put(&f.engine, "x/a.csv", b"100.50,0.05,0.08\n2000.25,0.10,0.00\n-3.33,0.00,0.02\n".to_vec()).await;
    let cols = [("p", "decimal(15,2)"), ("d", "decimal(15,2)"), ("t", "decimal(15,2)")];
    f.engine.catalog().create_table("db", csv_table("x", "s3://data/x/", &cols, &[], false)).await.unwrap();
    let sql = "SELECT sum(p * (1 - d)) AS a, sum(p * (1 - d) * (1 + t)) AS b, \
               arrow_typeof(sum(p * (1 - d) * (1 + t))) AS ty FROM x";
    let out = rows_of(&f.engine, sql).await;
    // 95.4750 + 1800.2250 - 3.3300 = 1892.3700; with tax: 103.113000 + 1800.225000 - 3.396600
    assert!(out.contains("| 1892.3700 | 1899.941400 | Decimal128(38, 6) |"), "{out}");
    let out = rows_of(&f.engine, "SELECT p * d AS m, p - d AS s FROM x ORDER BY m").await;
    assert!(out.contains("| -0.0000 | -3.33 |") || out.contains("| 0.0000 | -3.33 |"), "{out}");
    assert!(out.contains("| 5.0250 | 100.45 |") && out.contains("| 200.0250 | 2000.15 |"), "{out}");

    let (ctx, _) = f.engine.context(Some("db")).unwrap();
    let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
    let (mut in_aggregates, mut all) = (0, 0);
    plan.apply(|node| {
        let is_aggregate = node.downcast_ref::<AggregateExec>().is_some();
        node.apply_expressions(&mut |e| {
            e.apply(|x| {
                if x.downcast_ref::<decimal::DecimalArithmetic>().is_some() {
                    all += 1;
                    in_aggregates += usize::from(is_aggregate);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(TreeNodeRecursion::Continue)
    })
    .unwrap();
    // p * (1 - d) (two operations, shared by both sums) and _ * (1 + t) (two more, in a sum's
    // argument, in each aggregate step that keeps its arguments)
    assert!(
        all >= 4 && in_aggregates >= 2,
        "{all} {in_aggregates}: {}",
        datafusion::physical_plan::displayable(plan.as_ref()).indent(true)
    );
}

/// tarn's physical rules sit where they must: join sides fixed right after DataFusion picks them
/// (before repartitions are planned), subplans shared before join filters are pushed down.
#[test]
fn physical_rules_run_in_their_places() {
    let names: Vec<String> = physical_optimizer_rules().iter().map(|r| r.name().to_string()).collect();
    let at = |name: &str| names.iter().position(|n| n == name).unwrap_or_else(|| panic!("{name} in {names:?}"));
    assert_eq!(at("build_on_fewer_rows"), at("join_selection") + 1);
    assert_eq!(at("share_identical_subplans") + 1, at("FilterPushdown(Post)"));
    assert!(at("filter_join_keys_at_scan") > at("FilterPushdown(Post)"));
    assert_eq!(at("tarn_fast_decimal_arithmetic"), names.len() - 1);
}

/// Statements share what they read of Parquet footers and the statistics taken from them, but
/// an object written again is read again: `count(*)` (answered from the statistics) and a sum
/// see the new rows.
#[tokio::test]
async fn a_rewritten_parquet_object_is_read_again() {
    let f = fixture().await;
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
    let file = |n: i64| {
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from_iter_values(0..n))]).unwrap();
        parquet_bytes(&batch)
    };
    let parquet = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
    f.engine.catalog().create_table("db", serde_table("m", &[("v", "bigint")], "s3://data/m/", parquet)).await.unwrap();
    put(&f.engine, "m/part-0.parquet", file(1000)).await;
    for _ in 0..2 {
        let out = rows_of(&f.engine, "SELECT count(*) AS n, sum(v) AS s FROM m").await;
        assert!(out.contains("| 1000 | 499500 |"), "{out}");
    }
    put(&f.engine, "m/part-0.parquet", file(2000)).await;
    let out = rows_of(&f.engine, "SELECT count(*) AS n, sum(v) AS s FROM m").await;
    assert!(out.contains("| 2000 | 1999000 |"), "{out}");
}

/// OpenCSVSerde unquotes fields (a quoted delimiter or quote stays in the value) and, like
/// LazySimpleSerDe, reads unparseable values and missing fields as NULL and ignores extra
/// fields; its `separatorChar` and `quoteChar` apply.
#[tokio::test]
async fn csv_tables_follow_open_csv_serde() {
    let f = fixture().await;
    let body = "id;label;score\n\
                1;'one; with a separator';1.5\n\
                2;'two ''quoted''';oops\n\
                x;three;3\n\
                4;'short'\n\
                5;long;5;extra;'more'\n";
    put(&f.engine, "open/a.csv", body.as_bytes().to_vec()).await;
    let mut t =
        csv_table("open", "s3://data/open/", &[("id", "bigint"), ("label", "string"), ("score", "double")], &[], true);
    let sd = t.storage_descriptor.as_mut().unwrap();
    sd.serde_info = Some(SerDeInfo {
        serialization_library: Some("org.apache.hadoop.hive.serde2.OpenCSVSerde".into()),
        parameters: [("separatorChar".to_string(), ";".to_string()), ("quoteChar".to_string(), "'".to_string())].into(),
        ..SerDeInfo::default()
    });
    f.engine.catalog().create_table("db", t).await.unwrap();
    let out = rows_of(&f.engine, "SELECT id, label, score FROM open ORDER BY label").await;
    for row in [
        "| 5 | long | 5.0 |",
        "| 1 | one; with a separator | 1.5 |",
        "| 4 | short | |",
        "| | three | 3.0 |",
        "| 2 | two 'quoted' | |",
    ] {
        assert!(out.contains(row), "{row} in {out}");
    }
    assert_eq!(out.lines().filter(|l| l.starts_with("| ")).count(), 6, "a header and five rows: {out}");
}

/// A multipart write whose parts finish out of order (object_store's WriteMultipart runs them
/// as tasks) stores the bytes in the parts' order: a large Parquet file written by COPY or
/// CTAS came out with its parts shuffled ("Corrupt footer") before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_parts_land_in_order_whatever_order_they_finish() {
    let f = fixture().await;
    let store = f.engine.registry().bucket("data");
    let path = store::path_of("big/object");
    let mut upload = store.put_multipart(&path).await.unwrap();
    let parts: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'a' + i; 100_000 + usize::from(i)]).collect();
    let futures: Vec<_> = parts.iter().map(|p| upload.put_part(p.clone().into())).collect();
    // the last part first, then the rest backwards
    for fut in futures.into_iter().rev() {
        fut.await.unwrap();
    }
    upload.complete().await.unwrap();
    let got = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(got.to_vec(), parts.concat(), "the object is its parts in order");
}

/// COPY's STL_LOAD_ERRORS names the file and the line of the input a bad row is on: after a
/// header, past the first batch and past the size at which a scan is split, in a compressed file,
/// and in the second file of a prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_reports_the_file_and_line_of_a_bad_row() {
    use std::io::Write;
    let f = fixture().await;
    let pg = f.engine.for_postgres();
    strings(&pg, "CREATE TABLE loadme (id integer, name text)").await;
    // ~19 MB: DataFusion would split a scan of it into byte ranges
    const BAD: usize = 1_500_000;
    let mut big = String::from("id,name\n");
    for i in 1..=1_600_000usize {
        if i == BAD {
            big.push_str("oops,x\n");
        } else {
            big.push_str(&format!("{i},name-{i}\n"));
        }
    }
    put(&pg, "load/big/part.csv", big.into_bytes()).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"id,name\n1,a\n2,b\nthree,c\n").unwrap();
    put(&pg, "load/gz/part.csv.gz", gz.finish().unwrap()).await;
    put(&pg, "load/two/a.csv", b"1,a\n2,b\n".to_vec()).await;
    put(&pg, "load/two/b.csv", b"3,c\n4,d\nfive,e\n".to_vec()).await;

    for (from, options, file, line) in [
        ("s3://data/load/big/", "IGNOREHEADER 1", "s3://data/load/big/part.csv", BAD + 1),
        ("s3://data/load/gz/", "GZIP IGNOREHEADER 1", "s3://data/load/gz/part.csv.gz", 4),
        ("s3://data/load/two/", "", "s3://data/load/two/b.csv", 3),
    ] {
        let sql = format!("COPY loadme FROM '{from}' IAM_ROLE default FORMAT AS CSV {options}");
        assert!(pg.execute(&sql, Some("db")).await.is_err(), "{sql} must fail");
        let got = strings(&pg, "SELECT filename, line_number FROM stl_load_errors ORDER BY query DESC LIMIT 1").await;
        assert_eq!(got, vec![vec![file.to_string(), line.to_string()]], "{sql}");
    }
    assert_eq!(strings(&pg, "SELECT count(*) FROM loadme").await, vec![vec!["0"]], "failed COPYs load nothing");
}
