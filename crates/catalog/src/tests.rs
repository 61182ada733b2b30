use super::*;

async fn catalog(dir: &std::path::Path) -> Catalog {
    let store = Store::open(dir).unwrap();
    Catalog::open(store, "000000000000").await.unwrap()
}

fn table(name: &str, cols: &[(&str, &str)], keys: &[(&str, &str)]) -> Table {
    Table {
        name: name.into(),
        storage_descriptor: Some(StorageDescriptor {
            columns: cols.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
            location: Some(format!("s3://bucket/{name}/")),
            ..StorageDescriptor::default()
        }),
        partition_keys: keys.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
        table_type: Some("EXTERNAL_TABLE".into()),
        ..Table::default()
    }
}

fn part(values: &[&str]) -> Partition {
    Partition { values: values.iter().map(|s| (*s).to_string()).collect(), ..Partition::default() }
}

#[tokio::test]
async fn databases_tables_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let c = catalog(dir.path()).await;
    c.create_database(Database { name: "Sales".into(), ..Database::default() }).await.unwrap();
    assert!(matches!(
        c.create_database(Database { name: "sales".into(), ..Database::default() }).await,
        Err(CatalogError::AlreadyExists(_))
    ));
    assert_eq!(c.get_database("SALES").unwrap().name, "sales");
    assert!(matches!(c.get_database("nope"), Err(CatalogError::EntityNotFound(_))));
    assert!(matches!(c.create_table("nope", table("t", &[], &[])).await, Err(CatalogError::EntityNotFound(_))));

    c.create_table("sales", table("Orders", &[("id", "bigint")], &[])).await.unwrap();
    let t = c.get_table("sales", "orders").unwrap();
    assert_eq!(t.version_id.as_deref(), Some("0"));
    assert_eq!(t.database_name.as_deref(), Some("sales"));

    c.update_table("sales", table("orders", &[("id", "bigint"), ("total", "double")], &[]), false, None).await.unwrap();
    assert!(matches!(
        c.update_table("sales", table("orders", &[], &[]), false, Some("0".into())).await,
        Err(CatalogError::ConcurrentModification(_))
    ));
    let (versions, next) = c.get_table_versions("sales", "orders", None, None).unwrap();
    assert!(next.is_none());
    assert_eq!(versions.iter().map(|v| v.version_id.as_str()).collect::<Vec<_>>(), ["1", "0"]);
    assert_eq!(versions[0].table.columns().len(), 2);
    assert_eq!(versions[1].table.columns().len(), 1);
    assert_eq!(c.get_table_version("sales", "orders", Some("0")).unwrap().table.columns().len(), 1);
    let errs = c.delete_table_versions("sales", "orders", vec!["1".into(), "0".into(), "7".into()]).await.unwrap();
    assert_eq!(errs.len(), 2, "{errs:?}");
    let (versions, _) = c.get_table_versions("sales", "orders", None, None).unwrap();
    assert_eq!(versions.len(), 1);

    for i in 0..5 {
        c.create_table("sales", table(&format!("t{i}"), &[], &[])).await.unwrap();
    }
    let (page, next) = c.get_tables("sales", None, None, Some(4)).unwrap();
    assert_eq!(page.len(), 4);
    let (rest, next2) = c.get_tables("sales", None, next.as_deref(), Some(4)).unwrap();
    assert_eq!(rest.len(), 2);
    assert!(next2.is_none());
    let (matching, _) = c.get_tables("sales", Some("t*"), None, None).unwrap();
    assert_eq!(matching.len(), 5);

    c.delete_database("sales").await.unwrap();
    assert!(matches!(c.get_table("sales", "orders"), Err(CatalogError::EntityNotFound(_))));
    // a database made again is empty
    c.create_database(Database { name: "sales".into(), ..Database::default() }).await.unwrap();
    assert!(c.get_tables("sales", None, None, None).unwrap().0.is_empty());
}

#[tokio::test]
async fn partitions_filter_page_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = catalog(dir.path()).await;
        c.create_database(Database { name: "db".into(), ..Database::default() }).await.unwrap();
        c.create_table("db", table("events", &[("id", "bigint")], &[("year", "string"), ("month", "int")]))
            .await
            .unwrap();
        let mut inputs = Vec::new();
        for y in ["2025", "2026"] {
            for m in 1..=12 {
                inputs.push(part(&[y, &m.to_string()]));
            }
        }
        inputs.push(part(&["2026"])); // wrong arity
        inputs.push(part(&["2026", "1"])); // duplicate within the call
        let errs = c.batch_create_partitions("db", "events", inputs).await.unwrap();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().any(|(_, e)| matches!(e, CatalogError::InvalidInput(_))));
        assert!(errs.iter().any(|(_, e)| matches!(e, CatalogError::AlreadyExists(_))));
    }
    let c = catalog(dir.path()).await;
    let (all, _) = c.get_partitions("db", "events", None, None, None, None).unwrap();
    assert_eq!(all.len(), 24);
    let (late, _) = c.get_partitions("db", "events", Some("year='2026' AND month>10"), None, None, None).unwrap();
    let mut months: Vec<_> = late.iter().map(|p| p.values[1].clone()).collect();
    months.sort();
    assert_eq!(months, ["11", "12"]);
    assert!(matches!(
        c.get_partitions("db", "events", Some("year = "), None, None, None),
        Err(CatalogError::InvalidInput(_))
    ));

    // pages cover everything once
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = c.get_partitions("db", "events", None, None, token.as_deref(), Some(5)).unwrap();
        seen.extend(page.into_iter().map(|p| p.values));
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen.len(), 24);
    seen.dedup();
    assert_eq!(seen.len(), 24);

    // segments partition the set
    let total: usize =
        (0..3).map(|s| c.get_partitions("db", "events", None, Some((s, 3)), None, None).unwrap().0.len()).sum();
    assert_eq!(total, 24);

    let (found, missing) = c
        .batch_get_partitions("db", "events", &[vec!["2025".into(), "3".into()], vec!["1999".into(), "1".into()]])
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(missing, vec![vec!["1999".to_string(), "1".to_string()]]);

    c.delete_partition("db", "events", vec!["2025".into(), "3".into()]).await.unwrap();
    assert!(matches!(
        c.get_partition("db", "events", &["2025".into(), "3".into()]),
        Err(CatalogError::EntityNotFound(_))
    ));
    let errs = c
        .batch_delete_partitions(
            "db",
            "events",
            vec![vec!["2025".into(), "4".into()], vec!["x".into(), "1".into()]],
            25,
        )
        .await
        .unwrap();
    assert_eq!(errs.len(), 1);
    let mut p = part(&["2025", "5"]);
    p.parameters.insert("k".into(), "v".into());
    c.update_partition("db", "events", vec!["2025".into(), "5".into()], p).await.unwrap();
    assert_eq!(c.get_partition("db", "events", &["2025".into(), "5".into()]).unwrap().parameters["k"], "v");

    c.delete_table("db", "events").await.unwrap();
    c.create_table("db", table("events", &[], &[("year", "string"), ("month", "int")])).await.unwrap();
    assert!(c.get_partitions("db", "events", None, None, None, None).unwrap().0.is_empty());
}

#[tokio::test]
async fn unknown_members_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let c = catalog(dir.path()).await;
    c.create_database(Database { name: "db".into(), ..Database::default() }).await.unwrap();
    let input: Table = serde_json::from_value(serde_json::json!({
        "Name": "t",
        "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}], "SkewedInfo": {"SkewedColumnNames": ["a"]}},
        "Parameters": {"classification": "csv"}
    }))
    .unwrap();
    c.create_table("db", input).await.unwrap();
    let out = serde_json::to_value(c.get_table("db", "t").unwrap()).unwrap();
    assert_eq!(out["StorageDescriptor"]["SkewedInfo"]["SkewedColumnNames"][0], "a");
    assert_eq!(out["Parameters"]["classification"], "csv");
    assert_eq!(out["DatabaseName"], "db");
}

#[tokio::test]
async fn rename_moves_a_table_with_its_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let c = catalog(dir.path()).await;
    c.create_database(Database { name: "db".into(), ..Database::default() }).await.unwrap();
    c.create_table("db", table("t", &[("id", "bigint")], &[("year", "string")])).await.unwrap();
    c.create_table("db", table("other", &[("id", "bigint")], &[])).await.unwrap();
    c.batch_create_partitions("db", "t", vec![part(&["2025"]), part(&["2026"])]).await.unwrap();

    assert!(matches!(c.rename_table("db", "t", "other").await, Err(CatalogError::AlreadyExists(_))));
    assert!(matches!(c.rename_table("db", "missing", "x").await, Err(CatalogError::EntityNotFound(_))));
    c.rename_table("db", "t", "U").await.unwrap();
    assert!(matches!(c.get_table("db", "t"), Err(CatalogError::EntityNotFound(_))));
    let moved = c.get_table("db", "u").unwrap();
    assert_eq!(moved.name, "u");
    assert_eq!(moved.location(), Some("s3://bucket/t/"), "the files stay where they are");
    let (parts, _) = c.get_partitions("db", "u", None, None, None, None).unwrap();
    let values: Vec<Vec<String>> = parts.iter().map(|p| p.values.clone()).collect();
    assert_eq!(values, vec![vec!["2025".to_string()], vec!["2026".to_string()]]);
    assert!(parts.iter().all(|p| p.table_name.as_deref() == Some("u")));
    let (old, _) = c.get_partitions("db", "t", None, None, None, None).unwrap_or_default();
    assert!(old.is_empty(), "no partitions are left under the old name");
    // and back again: the name is free once more
    c.rename_table("db", "u", "t").await.unwrap();
    assert_eq!(c.get_table("db", "t").unwrap().name, "t");
}
