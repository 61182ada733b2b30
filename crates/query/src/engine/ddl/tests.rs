//! Tests of the DDL parser: the statements, Glue's table shapes and the error messages.

use std::collections::BTreeMap;

use tarn_catalog::{Column, Order, SerDeInfo, StorageDescriptor, Table};

use super::glue::{LAZY_SIMPLE_SERDE, OPENX_JSON_SERDE, TEXT_INPUT, TEXT_OUTPUT};
use super::lexer::hive_unescape;
use super::*;

const OPEN_CSV_SERDE: &str = "org.apache.hadoop.hive.serde2.OpenCSVSerde";

fn ok(sql: &str) -> Statement {
    match parse(sql) {
        Ok(Some(s)) => s,
        other => panic!("{sql}: {other:?}"),
    }
}

fn err(sql: &str) -> String {
    match parse(sql) {
        Err(e) => e,
        other => panic!("{sql}: expected an error, got {other:?}"),
    }
}

fn table(sql: &str) -> (Option<String>, Table, bool) {
    match ok(sql) {
        Statement::CreateTable { database, table, if_not_exists, .. } => (database, table, if_not_exists),
        other => panic!("{other:?}"),
    }
}

fn sd(t: &Table) -> &StorageDescriptor {
    t.storage_descriptor.as_ref().unwrap()
}

fn serde(t: &Table) -> &SerDeInfo {
    sd(t).serde_info.as_ref().unwrap()
}

fn cols(cs: &[Column]) -> Vec<(&str, &str)> {
    cs.iter().map(|c| (c.name.as_str(), c.type_name())).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn tpch_parquet_table() {
    let (db, t, ine) = table(
        "CREATE EXTERNAL TABLE IF NOT EXISTS tpch.LineItem (
                l_orderkey BIGINT, l_partkey BIGINT, l_suppkey BIGINT, l_linenumber INTEGER,
                l_quantity DECIMAL(15, 2), l_extendedprice decimal(15,2), l_discount DOUBLE, l_tax FLOAT,
                l_returnflag CHAR(1), l_linestatus VARCHAR(1), l_shipdate DATE, l_commitdate date,
                l_receiptdate DATE, l_shipinstruct string, l_shipmode STRING, l_comment STRING COMMENT 'free text'
             )
             COMMENT 'TPC-H lineitem'
             STORED AS PARQUET
             LOCATION 's3://tpch/sf1/lineitem/'
             TBLPROPERTIES ('parquet.compression'='SNAPPY');",
    );
    assert_eq!(db.as_deref(), Some("tpch"));
    assert!(ine);
    assert_eq!(t.name, "lineitem");
    assert_eq!(t.database_name.as_deref(), Some("tpch"));
    assert_eq!(t.description.as_deref(), Some("TPC-H lineitem"));
    assert_eq!(t.table_type.as_deref(), Some("EXTERNAL_TABLE"));
    assert_eq!(
        cols(t.columns()),
        vec![
            ("l_orderkey", "bigint"),
            ("l_partkey", "bigint"),
            ("l_suppkey", "bigint"),
            ("l_linenumber", "int"),
            ("l_quantity", "decimal(15,2)"),
            ("l_extendedprice", "decimal(15,2)"),
            ("l_discount", "double"),
            ("l_tax", "float"),
            ("l_returnflag", "char(1)"),
            ("l_linestatus", "varchar(1)"),
            ("l_shipdate", "date"),
            ("l_commitdate", "date"),
            ("l_receiptdate", "date"),
            ("l_shipinstruct", "string"),
            ("l_shipmode", "string"),
            ("l_comment", "string"),
        ]
    );
    assert_eq!(t.columns()[15].comment.as_deref(), Some("free text"));
    assert_eq!(t.location(), Some("s3://tpch/sf1/lineitem/"));
    let sd = sd(&t);
    assert_eq!(sd.input_format.as_deref(), Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"));
    assert_eq!(sd.output_format.as_deref(), Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"));
    assert_eq!(
        serde(&t).serialization_library.as_deref(),
        Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    );
    assert_eq!(serde(&t).parameters, map(&[("serialization.format", "1")]));
    assert_eq!(sd.number_of_buckets, -1);
    assert!(t.partition_keys.is_empty());
    assert_eq!(
        t.parameters,
        map(&[("EXTERNAL", "TRUE"), ("classification", "parquet"), ("parquet.compression", "SNAPPY")])
    );
}

#[test]
fn csv_row_format_delimited() {
    let (db, t, ine) = table(
        r"create external table `Sales`.`Orders` (
                `Order ID` int, amount decimal(10,2), note string
              )
              ROW FORMAT DELIMITED
                FIELDS TERMINATED BY ',' ESCAPED BY '\\'
                COLLECTION ITEMS TERMINATED BY '|'
                MAP KEYS TERMINATED BY ':'
                LINES TERMINATED BY '\n'
                NULL DEFINED AS ''
              STORED AS TEXTFILE
              LOCATION 's3://bucket/orders/'
              TBLPROPERTIES ('skip.header.line.count'='1')",
    );
    assert_eq!(db.as_deref(), Some("sales"));
    assert!(!ine);
    assert_eq!(t.name, "orders");
    assert_eq!(cols(t.columns()), vec![("order id", "int"), ("amount", "decimal(10,2)"), ("note", "string")]);
    assert_eq!(sd(&t).input_format.as_deref(), Some(TEXT_INPUT));
    assert_eq!(sd(&t).output_format.as_deref(), Some(TEXT_OUTPUT));
    assert_eq!(serde(&t).serialization_library.as_deref(), Some(LAZY_SIMPLE_SERDE));
    assert_eq!(
        serde(&t).parameters,
        map(&[
            ("field.delim", ","),
            ("serialization.format", ","),
            ("escape.delim", "\\"),
            ("collection.delim", "|"),
            ("mapkey.delim", ":"),
            ("line.delim", "\n"),
            ("serialization.null.format", ""),
        ])
    );
    assert_eq!(t.parameters, map(&[("EXTERNAL", "TRUE"), ("classification", "csv"), ("skip.header.line.count", "1")]));
    assert_eq!(t.property("skip.header.line.count"), Some("1"));
}

#[test]
fn delimiter_escapes() {
    let (_, t, _) = table(
        r"CREATE EXTERNAL TABLE t (a string) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
              COLLECTION ITEMS TERMINATED BY '\002' MAP KEYS TERMINATED BY '\003' LOCATION 's3://b/t/'",
    );
    let p = &serde(&t).parameters;
    assert_eq!(p["field.delim"], "\t");
    assert_eq!(p["collection.delim"], "\u{2}");
    assert_eq!(p["mapkey.delim"], "\u{3}");
    let (_, t, _) = table(
        r"CREATE EXTERNAL TABLE t (a string) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\001' LOCATION 's3://b/'",
    );
    assert_eq!(serde(&t).parameters["field.delim"], "\u{1}");
    assert_eq!(hive_unescape(r"a\'b\\c\u0041\%"), "a'b\\cA\\%");
    // A quote escaped with a backslash does not end the string.
    let (_, t, _) = table(r"CREATE EXTERNAL TABLE t (a string COMMENT 'it\'s') LOCATION 's3://b/'");
    assert_eq!(t.columns()[0].comment.as_deref(), Some("it's"));
    let (_, t, _) = table("CREATE EXTERNAL TABLE t (a string COMMENT 'it''s') LOCATION 's3://b/'");
    assert_eq!(t.columns()[0].comment.as_deref(), Some("it's"));
}

#[test]
fn open_csv_serde_with_properties() {
    let (_, t, _) = table(
        r#"CREATE EXTERNAL TABLE flights (year SMALLINT, origin STRING, delay TINYINT)
               ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
               WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '"', 'escapeChar' = '\\')
               STORED AS TEXTFILE
               LOCATION 's3://athena-examples/flight/csv/'"#,
    );
    assert_eq!(cols(t.columns()), vec![("year", "smallint"), ("origin", "string"), ("delay", "tinyint")]);
    assert_eq!(serde(&t).serialization_library.as_deref(), Some(OPEN_CSV_SERDE));
    assert_eq!(
        serde(&t).parameters,
        map(&[("separatorChar", ","), ("quoteChar", "\""), ("escapeChar", "\\"), ("serialization.format", "1")])
    );
    assert_eq!(sd(&t).input_format.as_deref(), Some(TEXT_INPUT));
    assert_eq!(t.parameters["classification"], "csv");
}

#[test]
fn json_table_with_nested_types() {
    let (_, t, _) = table(
        "CREATE EXTERNAL TABLE events (
                id string,
                tags ARRAY<STRING>,
                attrs map<string, array<int>>,
                user STRUCT<Name: string, age:INT, address: struct<city:string, zip:varchar(10)>>,
                matrix array<array<double>>,
                `nested` array<struct<k:string,v:map<string,bigint>>>
             )
             ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
             WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
             LOCATION 's3://bucket/events/'",
    );
    assert_eq!(
        cols(t.columns()),
        vec![
            ("id", "string"),
            ("tags", "array<string>"),
            ("attrs", "map<string,array<int>>"),
            ("user", "struct<Name:string,age:int,address:struct<city:string,zip:varchar(10)>>"),
            ("matrix", "array<array<double>>"),
            ("nested", "array<struct<k:string,v:map<string,bigint>>>"),
        ]
    );
    assert_eq!(serde(&t).serialization_library.as_deref(), Some(OPENX_JSON_SERDE));
    assert_eq!(serde(&t).parameters["ignore.malformed.json"], "true");
    assert_eq!(sd(&t).input_format.as_deref(), Some(TEXT_INPUT));
    assert_eq!(t.parameters["classification"], "json");

    let (_, t, _) = table("CREATE EXTERNAL TABLE j (a int) STORED AS JSONFILE LOCATION 's3://b/j/'");
    assert_eq!(serde(&t).serialization_library.as_deref(), Some(OPENX_JSON_SERDE));
    assert_eq!(sd(&t).output_format.as_deref(), Some(TEXT_OUTPUT));
    assert_eq!(t.parameters["classification"], "json");
}

#[test]
fn partitioned_and_bucketed_tables() {
    let (_, t, _) = table(
        "CREATE EXTERNAL TABLE logs (msg string, level string)
             PARTITIONED BY (Year INT, month string COMMENT 'mm', dt date)
             CLUSTERED BY (Level) SORTED BY (msg DESC) INTO 8 BUCKETS
             STORED AS ORC
             LOCATION 's3://b/logs/'
             TBLPROPERTIES ('classification'='orc', 'orc.compress'='ZLIB')",
    );
    assert_eq!(cols(&t.partition_keys), vec![("year", "int"), ("month", "string"), ("dt", "date")]);
    assert_eq!(t.partition_keys[1].comment.as_deref(), Some("mm"));
    assert_eq!(sd(&t).bucket_columns, vec!["level".to_string()]);
    assert_eq!(sd(&t).sort_columns, vec![Order { column: "msg".into(), sort_order: 0 }]);
    assert_eq!(sd(&t).number_of_buckets, 8);
    assert_eq!(sd(&t).input_format.as_deref(), Some("org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"));
    assert_eq!(serde(&t).serialization_library.as_deref(), Some("org.apache.hadoop.hive.ql.io.orc.OrcSerde"));
    assert_eq!(t.parameters["classification"], "orc");

    let (_, t, _) = table(
        "CREATE EXTERNAL TABLE a (x int) PARTITIONED BY (p string) STORED AS AVRO LOCATION 's3://b/a/'
             TBLPROPERTIES ('avro.schema.literal'='{}')",
    );
    assert_eq!(t.parameters["classification"], "avro");
    assert_eq!(serde(&t).serialization_library.as_deref(), Some("org.apache.hadoop.hive.serde2.avro.AvroSerDe"));

    let (_, t, _) = table(
        "CREATE EXTERNAL TABLE io (x int) STORED AS INPUTFORMAT 'com.example.In' OUTPUTFORMAT 'com.example.Out'
             LOCATION 's3://b/io/'",
    );
    assert_eq!(sd(&t).input_format.as_deref(), Some("com.example.In"));
    assert_eq!(sd(&t).output_format.as_deref(), Some("com.example.Out"));
    assert_eq!(serde(&t).serialization_library.as_deref(), Some(LAZY_SIMPLE_SERDE));

    // Neither STORED AS nor ROW FORMAT: TEXTFILE with LazySimpleSerDe; not external: no LOCATION needed.
    let (_, t, _) = table("CREATE TABLE plain (x int)");
    assert_eq!(sd(&t).input_format.as_deref(), Some(TEXT_INPUT));
    assert_eq!(serde(&t).serialization_library.as_deref(), Some(LAZY_SIMPLE_SERDE));
    assert_eq!(t.table_type.as_deref(), Some("MANAGED_TABLE"));
    assert_eq!(t.parameters, map(&[("classification", "csv")]));
    assert_eq!(t.location(), None);
}

#[test]
fn qualified_names_and_comments() {
    for sql in [
        "DROP TABLE db.t",
        "drop table \"DB\".\"T\";",
        "DROP TABLE `db`.`t` ;; ",
        "-- a comment\nDROP /* inline */ TABLE db . t -- trailing",
    ] {
        assert_eq!(
            ok(sql),
            Statement::DropTable { database: Some("db".into()), name: "t".into(), if_exists: false },
            "{sql}"
        );
    }
    assert_eq!(
        ok("DROP TABLE IF EXISTS t"),
        Statement::DropTable { database: None, name: "t".into(), if_exists: true }
    );
    assert_eq!(
        ok("DROP VIEW IF EXISTS v1"),
        Statement::DropView { database: None, name: "v1".into(), if_exists: true }
    );
}

#[test]
fn databases() {
    assert_eq!(
        ok("CREATE DATABASE IF NOT EXISTS Sales COMMENT 'sales data' LOCATION 's3://b/sales/'
                WITH DBPROPERTIES ('creator'='me', 'Dept'='x')"),
        Statement::CreateDatabase {
            name: "sales".into(),
            if_not_exists: true,
            comment: Some("sales data".into()),
            location: Some("s3://b/sales/".into()),
            properties: map(&[("creator", "me"), ("Dept", "x")]),
        }
    );
    assert_eq!(
        ok("create schema s"),
        Statement::CreateDatabase {
            name: "s".into(),
            if_not_exists: false,
            comment: None,
            location: None,
            properties: BTreeMap::new(),
        }
    );
    assert_eq!(
        ok("DROP DATABASE IF EXISTS s CASCADE"),
        Statement::DropDatabase { name: "s".into(), if_exists: true, cascade: true }
    );
    assert_eq!(
        ok("DROP SCHEMA s RESTRICT"),
        Statement::DropDatabase { name: "s".into(), if_exists: false, cascade: false }
    );
}

#[test]
fn add_and_drop_partitions() {
    assert_eq!(
        ok("ALTER TABLE logs.Events ADD IF NOT EXISTS
                PARTITION (Year = 2024, month = '01') LOCATION 's3://b/events/2024/01/'
                PARTITION (year=2024, month='02') LOCATION 's3://b/events/2024/02/'"),
        Statement::AddPartitions {
            database: Some("logs".into()),
            name: "events".into(),
            if_not_exists: true,
            partitions: vec![
                (
                    vec![("year".into(), "2024".into()), ("month".into(), "01".into())],
                    Some("s3://b/events/2024/01/".into())
                ),
                (
                    vec![("year".into(), "2024".into()), ("month".into(), "02".into())],
                    Some("s3://b/events/2024/02/".into())
                ),
            ],
        }
    );
    assert_eq!(
        ok("ALTER TABLE t ADD PARTITION (dt='2024-01-01')"),
        Statement::AddPartitions {
            database: None,
            name: "t".into(),
            if_not_exists: false,
            partitions: vec![(vec![("dt".into(), "2024-01-01".into())], None)],
        }
    );
    assert_eq!(
        ok("ALTER TABLE t DROP IF EXISTS PARTITION (dt='2024-01-01', h=-1), PARTITION (dt = '2024-01-02', h=3);"),
        Statement::DropPartitions {
            database: None,
            name: "t".into(),
            if_exists: true,
            partitions: vec![
                vec![("dt".into(), "2024-01-01".into()), ("h".into(), "-1".into())],
                vec![("dt".into(), "2024-01-02".into()), ("h".into(), "3".into())],
            ],
        }
    );
    // Other ALTER TABLE forms are not handled here.
    assert_eq!(parse("ALTER TABLE t SET TBLPROPERTIES ('a'='b')"), Ok(None));
    assert_eq!(parse("ALTER TABLE t ADD COLUMNS (c int)"), Ok(None));
}

#[test]
fn msck_show_describe() {
    assert_eq!(ok("MSCK REPAIR TABLE db.T"), Statement::MsckRepair { database: Some("db".into()), name: "t".into() });
    assert_eq!(ok("SHOW DATABASES"), Statement::ShowDatabases { like: None });
    assert_eq!(ok("show schemas like 'sa.*'"), Statement::ShowDatabases { like: Some("sa.*".into()) });
    assert_eq!(ok("SHOW TABLES"), Statement::ShowTables { database: None, like: None });
    assert_eq!(
        ok("SHOW TABLES IN Sales 'ord*'"),
        Statement::ShowTables { database: Some("sales".into()), like: Some("ord*".into()) }
    );
    assert_eq!(
        ok("SHOW TABLES FROM sales LIKE 'x'"),
        Statement::ShowTables { database: Some("sales".into()), like: Some("x".into()) }
    );
    assert_eq!(
        ok("SHOW PARTITIONS db.logs"),
        Statement::ShowPartitions { database: Some("db".into()), name: "logs".into() }
    );
    assert_eq!(ok("SHOW CREATE TABLE `T`"), Statement::ShowCreateTable { database: None, name: "t".into() });
    assert_eq!(ok("SHOW COLUMNS IN db.t"), Statement::ShowColumns { database: Some("db".into()), name: "t".into() });
    assert_eq!(
        ok("SHOW COLUMNS FROM t FROM db"),
        Statement::ShowColumns { database: Some("db".into()), name: "t".into() }
    );
    for sql in ["DESCRIBE db.t", "desc db.t", "DESCRIBE EXTENDED db.t", "DESCRIBE FORMATTED db.t;"] {
        assert_eq!(ok(sql), Statement::Describe { database: Some("db".into()), name: "t".into() }, "{sql}");
    }
    assert_eq!(ok("DESCRIBE extended"), Statement::Describe { database: None, name: "extended".into() });
    assert_eq!(parse("SHOW FUNCTIONS"), Ok(None));
    assert_eq!(parse("DESCRIBE OUTPUT my_statement"), Ok(None));
}

#[test]
fn ctas() {
    let query = "SELECT a, b AS \"B\" , 'x;y' FROM src WHERE c > 1 -- keep\n  AND d = 'it''s'";
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS db.NewT WITH (format='PARQUET', External_Location = 's3://b/new/',
               partitioned_by = ARRAY['a', 'b'], write_compression='SNAPPY', bucket_count = 16,
               is_external = true, vacuum_min = -1, bucketed_by = ARRAY[])
             AS {query};"
    );
    let expected = Statement::Ctas {
        database: Some("db".into()),
        name: "newt".into(),
        if_not_exists: true,
        properties: [
            ("format".to_string(), PropValue::Str("PARQUET".into())),
            ("external_location".to_string(), PropValue::Str("s3://b/new/".into())),
            ("partitioned_by".to_string(), PropValue::Array(vec!["a".into(), "b".into()])),
            ("write_compression".to_string(), PropValue::Str("SNAPPY".into())),
            ("bucket_count".to_string(), PropValue::Num("16".into())),
            ("is_external".to_string(), PropValue::Bool(true)),
            ("vacuum_min".to_string(), PropValue::Num("-1".into())),
            ("bucketed_by".to_string(), PropValue::Array(vec![])),
        ]
        .into(),
        query: query.to_string(),
        with_data: true,
        temporary: false,
    };
    assert_eq!(ok(&sql), expected);

    assert_eq!(
        ok("CREATE TABLE t AS\n  WITH x AS (SELECT 1 AS a) SELECT * FROM x\n  WITH NO DATA"),
        Statement::Ctas {
            database: None,
            name: "t".into(),
            if_not_exists: false,
            properties: BTreeMap::new(),
            query: "WITH x AS (SELECT 1 AS a) SELECT * FROM x".into(),
            with_data: false,
            temporary: false,
        }
    );
    let Statement::Ctas { query, with_data, .. } = ok("create table t as (select 1) with data") else { panic!() };
    assert_eq!((query.as_str(), with_data), ("(select 1)", true));
    // A backslash in the query is Trino's: no escape.
    let Statement::Ctas { query, .. } = ok(r"CREATE TABLE t AS SELECT 'a\' AS s") else { panic!() };
    assert_eq!(query, r"SELECT 'a\' AS s");
}

#[test]
fn views() {
    assert_eq!(
        ok("CREATE OR REPLACE VIEW db.V AS SELECT * FROM t WHERE x = 'A'"),
        Statement::CreateView {
            database: Some("db".into()),
            name: "v".into(),
            or_replace: true,
            query: "SELECT * FROM t WHERE x = 'A'".into(),
        }
    );
    assert_eq!(
        ok("create view v as with a as (select 1) select * from a;"),
        Statement::CreateView {
            database: None,
            name: "v".into(),
            or_replace: false,
            query: "with a as (select 1) select * from a".into(),
        }
    );
}

#[test]
fn inserts() {
    assert_eq!(
        ok("INSERT INTO db.T (A, \"b\") SELECT x, y FROM s WHERE z IN (1, 2)"),
        Statement::InsertInto {
            database: Some("db".into()),
            name: "t".into(),
            columns: vec!["a".into(), "b".into()],
            query: "SELECT x, y FROM s WHERE z IN (1, 2)".into(),
        }
    );
    assert_eq!(
        ok("insert into t values (1, 'a'), (2, 'b');"),
        Statement::InsertInto {
            database: None,
            name: "t".into(),
            columns: vec![],
            query: "values (1, 'a'), (2, 'b')".into(),
        }
    );
    assert_eq!(
        ok("INSERT INTO t (SELECT 1)"),
        Statement::InsertInto { database: None, name: "t".into(), columns: vec![], query: "(SELECT 1)".into() }
    );
    assert_eq!(
        ok("INSERT INTO t (a) VALUES (1)"),
        Statement::InsertInto {
            database: None,
            name: "t".into(),
            columns: vec!["a".into()],
            query: "VALUES (1)".into(),
        }
    );
}

#[test]
fn other_statements_are_not_ours() {
    for sql in [
        "SELECT * FROM t",
        "  select 1;",
        "WITH a AS (SELECT 1) SELECT * FROM a",
        "EXPLAIN SELECT 1",
        "VALUES (1, 2)",
        "(SELECT 1)",
        "-- comment\nSELECT 1",
        "",
        "DELETE FROM t WHERE a = 1",
        "CREATE FUNCTION f",
        "SHOW VIEWS",
    ] {
        assert_eq!(parse(sql), Ok(None), "{sql}");
    }
}

#[test]
fn errors() {
    let e = err("CREATE EXTERNAL TABLE t (a int) STORED AS PARQUET");
    assert!(e.contains("Must specify LOCATION for external table"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int) STORED AS CSV LOCATION 's3://b/'");
    assert!(e.starts_with("line 1:43: Unknown file format 'CSV'"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int, b string LOCATION 's3://b/'");
    assert!(e.starts_with("line 1:42: mismatched input 'LOCATION'. Expecting: ','"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int, b array<string)");
    assert!(e.contains("mismatched input ')'. Expecting: '>'"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int, b string");
    assert!(e.contains("unbalanced parentheses"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a map<string,int");
    assert!(e.contains("unbalanced angle brackets"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int)) LOCATION 's3://b/'");
    assert!(e.starts_with("line 1:32: mismatched input ')'"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/'");
    assert!(e.starts_with("missing column list: line 1:25: mismatched input 'STORED'"), "{e}");
    let e = err("CREATE TABLE t");
    assert!(e.contains("missing column list") && e.contains("'<EOF>'"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t ()");
    assert!(e.contains("empty column list"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a foo) LOCATION 's3://b/'");
    assert!(e.contains("1:28: Unknown type 'foo'"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int, A string) LOCATION 's3://b/'");
    assert!(e.contains("Duplicate column name: a"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int) PARTITIONED BY (a string) LOCATION 's3://b/'");
    assert!(e.contains("Column repeated in partitioning columns"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/");
    assert!(e.contains("unterminated string literal"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a varchar) LOCATION 's3://b/'");
    assert!(e.contains("varchar needs a length"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/' LOCATION 's3://c/'");
    assert!(e.contains("duplicate LOCATION clause"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t AS SELECT 1");
    assert!(e.contains("not supported"), "{e}");
    let e = err("CREATE TABLE t WITH (format = 'PARQUET' AS SELECT 1");
    assert!(e.contains("mismatched input 'AS'"), "{e}");
    let e = err("CREATE TABLE t AS SELECT (1");
    assert!(e.contains("unbalanced"), "{e}");
    let e = err("CREATE TABLE t AS");
    assert!(e.contains("'<EOF>'"), "{e}");
    let e = err("CREATE VIEW v AS DROP TABLE x");
    assert!(e.contains("mismatched input 'DROP'"), "{e}");
    let e = err("INSERT INTO t SELECT 1; SELECT 2");
    assert!(e.contains("only one statement"), "{e}");
    let e = err("ALTER TABLE t ADD PARTITION (dt='1' LOCATION 's3://x/'");
    assert!(e.contains("mismatched input 'LOCATION'"), "{e}");
    let e = err("ALTER TABLE t DROP PARTITION (dt='1', dt='2')");
    assert!(e.contains("given twice"), "{e}");
    let e = err("MSCK TABLE t");
    assert!(e.starts_with("line 1:6: mismatched input 'TABLE'. Expecting: 'REPAIR'"), "{e}");
    let e = err("DROP TABLE a.b.c");
    assert!(e.contains("too many dots"), "{e}");
    let e = err("SHOW PARTITIONS");
    assert!(e.contains("'<EOF>'"), "{e}");
    let e = err("DESCRIBE t PARTITION (dt='1')");
    assert!(e.contains("not supported"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (a int) /* unterminated");
    assert!(e.contains("unterminated comment"), "{e}");
    let e = err("CREATE EXTERNAL TABLE t (\n  a int,\n  b strin\n) LOCATION 's3://b/'");
    assert!(e.starts_with("line 3:5: Unknown type 'strin'"), "{e}");
}

#[test]
fn redshift_external_schemas() {
    assert_eq!(
        ok("CREATE EXTERNAL SCHEMA spectrum FROM DATA CATALOG DATABASE 'Lake' \
            IAM_ROLE 'arn:aws:iam::123456789012:role/s' REGION 'us-east-1'"),
        Statement::CreateExternalSchema {
            name: "spectrum".into(),
            if_not_exists: false,
            database: "lake".into(),
            create_database: false
        }
    );
    assert_eq!(
        ok("create external schema if not exists s from database 'db' iam_role default \
            create external database if not exists"),
        Statement::CreateExternalSchema {
            name: "s".into(),
            if_not_exists: true,
            database: "db".into(),
            create_database: true
        }
    );
    let e = err("CREATE EXTERNAL SCHEMA s FROM HIVE METASTORE DATABASE 'x'");
    assert!(e.contains("FROM DATA CATALOG"), "{e}");
    let e = err("CREATE EXTERNAL SCHEMA s FROM DATA CATALOG DATABASE 'x' BOGUS");
    assert!(e.contains("mismatched input 'BOGUS'"), "{e}");
}

#[test]
fn redshift_unload() {
    let Statement::Unload(u) = ok("UNLOAD ('SELECT * FROM t WHERE s = ''x''') TO 's3://b/out/' \
        IAM_ROLE 'arn:aws:iam::123456789012:role/r' FORMAT AS PARQUET PARTITION BY (Year, month) INCLUDE \
        MAXFILESIZE 100 MB ALLOWOVERWRITE MANIFEST VERBOSE")
    else {
        panic!("an UNLOAD")
    };
    assert_eq!(u.query, "SELECT * FROM t WHERE s = 'x'");
    assert_eq!(u.to, "s3://b/out/");
    assert_eq!(
        (u.format.as_str(), u.partition_by.clone(), u.include),
        ("parquet", vec!["year".into(), "month".into()], true)
    );
    assert!(u.allow_overwrite && u.manifest && u.parallel);
    let Statement::Unload(u) =
        ok("unload ('select 1') to 's3://b/p_' iam_role default csv header delimiter as ';' gzip parallel off")
    else {
        panic!("an UNLOAD")
    };
    assert_eq!(
        (u.format.as_str(), u.header, u.delimiter.as_deref(), u.gzip, u.parallel),
        ("csv", true, Some(";"), true, false)
    );
    // Redshift's default: pipe-delimited text
    let Statement::Unload(u) = ok("UNLOAD ('select 1') TO 's3://b/p_' IAM_ROLE default") else { panic!("an UNLOAD") };
    assert_eq!((u.format.as_str(), u.delimiter.as_deref()), ("csv", Some("|")));
    assert!(err("UNLOAD ('select 1') TO 's3://b/' FORMAT AS ORC").contains("not supported"));
    assert!(err("UNLOAD ('select 1') TO 's3://b/' ENCRYPTED").contains("not supported"));
    assert!(err("UNLOAD ('select 1') TO 's3://b/' FORMAT PARQUET HEADER").contains("only for CSV"));
}

#[test]
fn redshift_copy_from_s3() {
    let Some(Statement::CopyFrom(c)) = parse(
        "COPY shop.sales (id, amount) FROM 's3://b/in/part_' IAM_ROLE 'arn:aws:iam::1:role/r' \
         FORMAT AS CSV GZIP IGNOREHEADER 1 DELIMITER ';' REGION 'us-east-1'",
    )
    .unwrap() else {
        panic!("a COPY")
    };
    assert_eq!((c.database.as_deref(), c.name.as_str()), (Some("shop"), "sales"));
    assert_eq!(c.columns, ["id", "amount"]);
    assert_eq!((c.from.as_str(), c.format.as_str()), ("s3://b/in/part_", "csv"));
    assert_eq!((c.compression.as_deref(), c.ignore_header, c.delimiter.as_deref()), (Some("gzip"), 1, Some(";")));
    let Some(Statement::CopyFrom(c)) = parse("copy t from 's3://b/j/' iam_role default json 'auto'").unwrap() else {
        panic!("a COPY")
    };
    assert_eq!(c.format, "json");
    // no CSV keyword: Redshift's pipe-delimited text
    let Some(Statement::CopyFrom(c)) = parse("COPY t FROM 's3://b/p/' IAM_ROLE default").unwrap() else {
        panic!("a COPY")
    };
    assert_eq!((c.format.as_str(), c.delimiter.as_deref()), ("csv", Some("|")));
    // the PostgreSQL wire's COPY forms are not this statement
    assert_eq!(parse("COPY t TO STDOUT").unwrap(), None);
    assert_eq!(parse("COPY t FROM STDIN").unwrap(), None);
    assert!(err("COPY t FROM 's3://b/' MANIFEST").contains("not supported"));
    assert!(err("COPY t FROM 's3://b/' JSON 's3://b/paths.json'").contains("'auto'"));
}

fn pg(sql: &str) -> (Statement, Vec<String>) {
    match super::parse_postgres(sql) {
        Ok((Some(s), catalogs)) => (s, catalogs),
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn postgres_forms_on_the_postgres_wire() {
    // dbt's seed table: three-part name, PostgreSQL's type names
    let (stmt, catalogs) = pg(r#"create table "dev"."analytics"."orders" ("order_id" integer, "customer" varchar(32),
        "note" character varying, "amount" numeric(10,2), "x" double precision, "at" timestamp without time zone,
        "tz" timestamp with time zone, "flag" bool, "big" int8, "t" text)"#);
    assert_eq!(catalogs, vec!["dev".to_string()]);
    let Statement::CreateTable { database, table, temporary, .. } = stmt else { panic!("{stmt:?}") };
    assert_eq!((database.as_deref(), table.name.as_str(), temporary), (Some("analytics"), "orders", false));
    let types: Vec<&str> = table.columns().iter().map(|c| c.type_name()).collect();
    assert_eq!(
        types,
        [
            "int",
            "varchar(32)",
            "string",
            "decimal(10,2)",
            "double",
            "timestamp",
            "timestamp",
            "boolean",
            "bigint",
            "string"
        ]
    );
    // Athena's parser keeps Hive's types only
    assert!(parse("CREATE TABLE t (x text)").unwrap_err().contains("Unknown type 'text'"));

    // dbt's temporary relation of an incremental model
    let (stmt, _) = pg(r#"create temporary table "m__dbt_tmp1" as ( select 1 as a )"#);
    let Statement::Ctas { name, query, temporary, .. } = stmt else { panic!("{stmt:?}") };
    assert_eq!((name.as_str(), query.as_str(), temporary), ("m__dbt_tmp1", "( select 1 as a )", true));
    let (stmt, _) = pg("CREATE TEMP TABLE t (a int)");
    assert!(matches!(stmt, Statement::CreateTable { temporary: true, .. }), "{stmt:?}");

    // renames and drops as dbt swaps relations
    let (stmt, catalogs) = pg(r#"alter table "dev"."analytics"."m" rename to "m__dbt_backup""#);
    assert_eq!(catalogs, vec!["dev".to_string()]);
    assert_eq!(
        stmt,
        Statement::RenameTable { database: Some("analytics".into()), name: "m".into(), to: "m__dbt_backup".into() }
    );
    let (stmt, _) = pg("ALTER VIEW v RENAME TO w");
    assert_eq!(stmt, Statement::RenameTable { database: None, name: "v".into(), to: "w".into() });
    assert!(super::parse_postgres("ALTER TABLE v RENAME TO s.w").unwrap_err().contains("cannot be qualified"));
    let (stmt, _) = pg(r#"drop view if exists "dev"."analytics"."m__dbt_backup" cascade"#);
    assert_eq!(
        stmt,
        Statement::DropView { database: Some("analytics".into()), name: "m__dbt_backup".into(), if_exists: true }
    );
    let (stmt, _) = pg("DROP TABLE t RESTRICT");
    assert_eq!(stmt, Statement::DropTable { database: None, name: "t".into(), if_exists: false });
    // Athena's DROP TABLE takes neither
    assert!(parse("DROP TABLE t CASCADE").is_err());
    // four parts are too many
    assert!(super::parse_postgres("DROP TABLE a.b.c.d").unwrap_err().contains("too many dots"));
}
