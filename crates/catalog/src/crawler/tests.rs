use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tarn_objects::checksum::ChecksumAlgorithm;
use tarn_objects::{BoxError, ChecksumInput, ObjectMeta, Objects, PutRequest, WriteConditions};

use super::*;
use crate::{Catalog, CatalogError, Column, Table};

struct Env {
    objects: Objects,
    catalog: Catalog,
    crawlers: Crawlers,
}

async fn env(dir: &Path) -> Env {
    let store = Store::open(dir).unwrap();
    let objects = Objects::open(store.clone(), "us-east-1").await.unwrap();
    let catalog = Catalog::open(store, "000000000000").await.unwrap();
    let crawlers = Crawlers::open(catalog.clone(), objects.clone()).await.unwrap();
    Env { objects, catalog, crawlers }
}

async fn put(objects: &Objects, key: &str, body: impl Into<Vec<u8>>) {
    let body: Vec<u8> = body.into();
    let len = body.len() as u64;
    let stream = futures::stream::iter([Ok::<_, BoxError>(Bytes::from(body))]);
    objects
        .put_object(PutRequest {
            bucket: "lake".into(),
            key: key.into(),
            meta: ObjectMeta::default(),
            body: Box::pin(stream),
            declared_len: Some(len),
            content_md5: None,
            checksum: ChecksumInput::Compute(ChecksumAlgorithm::Crc32),
            conditions: WriteConditions::default(),
            sse: tarn_objects::SseRequest::BucketDefault,
        })
        .await
        .unwrap();
}

fn request(name: &str, path: &str) -> CreateCrawlerRequest {
    serde_json::from_value(serde_json::json!({
        "Name": name,
        "Role": "arn:aws:iam::000000000000:role/glue",
        "DatabaseName": "lake_db",
        "Targets": {"S3Targets": [{"Path": path, "Exclusions": ["logs/**"]}]},
        "TablePrefix": "raw_",
    }))
    .unwrap()
}

/// Starts a crawl and waits for its end.
async fn crawl(c: &Crawlers, name: &str) -> Crawler {
    c.start_crawler(name).await.unwrap();
    wait_ready(c, name).await
}

async fn wait_ready(c: &Crawlers, name: &str) -> Crawler {
    for _ in 0..3000 {
        let crawler = c.get_crawler(name).unwrap();
        if crawler.state == CrawlerState::Ready {
            return crawler;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("crawler {name} did not finish");
}

fn metrics(c: &Crawlers, name: &str) -> CrawlerMetrics {
    let req = GetCrawlerMetricsRequest { crawler_name_list: vec![name.into()], ..Default::default() };
    c.get_crawler_metrics(req).unwrap().crawler_metrics_list.remove(0)
}

fn columns(t: &Table) -> Vec<(String, String)> {
    t.columns().iter().map(|c| (c.name.clone(), c.type_name().to_string())).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| ((*a).to_string(), (*b).to_string())).collect()
}

fn partition_values(catalog: &Catalog, table: &str) -> Vec<Vec<String>> {
    let (parts, _) = catalog.get_partitions("lake_db", table, None, None, None, None).unwrap();
    let mut v: Vec<Vec<String>> = parts.into_iter().map(|p| p.values).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_creates_updates_and_retires_tables() {
    let dir = tempfile::tempdir().unwrap();
    let Env { objects, catalog, crawlers } = env(dir.path()).await;
    objects.create_bucket("lake").await.unwrap();
    put(&objects, "raw/events/year=2026/month=01/a.csv", "id,name,amount\n1,a,1.5\n2,b,2.5\n").await;
    put(&objects, "raw/events/year=2026/month=02/a.csv", "id,name,amount\n3,c,3.5\n4,d,4\n").await;
    put(&objects, "raw/events/_SUCCESS", "").await;
    put(&objects, "raw/events/year=2026/month=02/.a.csv.crc", "junk").await;
    put(&objects, "raw/users/u.json", "{\"id\": 1, \"profile\": {\"age\": 3, \"tags\": [\"x\"]}}\n{\"id\": 2}\n").await;
    put(&objects, "raw/metrics/part-0.parquet", super::columnar::tests::parquet_file(100, false)).await;
    put(&objects, "raw/logs/app.csv", "a,b\n1,2\n").await;

    crawlers.create_crawler(request("c1", "s3://lake/raw/")).await.unwrap();
    let c = crawl(&crawlers, "c1").await;
    let last = c.last_crawl.clone().unwrap();
    assert_eq!(last.status, LastCrawlStatus::Succeeded, "{last:?}");
    assert!(last.start_time.is_some());

    // the database was made; three tables, the logs excluded
    let (tables, _) = catalog.get_tables("lake_db", None, None, None).unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["raw_events", "raw_metrics", "raw_users"]);
    let m = metrics(&crawlers, "c1");
    assert_eq!((m.tables_created, m.tables_updated, m.tables_deleted), (3, 0, 0));
    assert!(!m.still_estimating);

    let events = catalog.get_table("lake_db", "raw_events").unwrap();
    assert_eq!(columns(&events), pairs(&[("id", "bigint"), ("name", "string"), ("amount", "double")]));
    assert_eq!(events.partition_keys, vec![Column::new("year", "string"), Column::new("month", "string")]);
    assert_eq!(events.location(), Some("s3://lake/raw/events/"));
    assert_eq!(events.table_type.as_deref(), Some("EXTERNAL_TABLE"));
    for (k, v) in [
        ("classification", "csv"),
        ("skip.header.line.count", "1"),
        ("delimiter", ","),
        ("UPDATED_BY_CRAWLER", "c1"),
        ("objectCount", "2"),
        ("recordCount", "4"),
        ("typeOfData", "file"),
        ("CrawlerSchemaSerializerVersion", "1.0"),
    ] {
        assert_eq!(events.parameters.get(k).map(String::as_str), Some(v), "{k}");
    }
    let sd = events.storage_descriptor.as_ref().unwrap();
    assert_eq!(sd.input_format.as_deref(), Some("org.apache.hadoop.mapred.TextInputFormat"));
    assert_eq!(sd.serde_info.as_ref().unwrap().parameters["field.delim"], ",");
    assert_eq!(partition_values(&catalog, "raw_events"), [["2026", "01"], ["2026", "02"]]);
    let p = catalog.get_partition("lake_db", "raw_events", &["2026".into(), "02".into()]).unwrap();
    assert_eq!(p.location(), Some("s3://lake/raw/events/year=2026/month=02/"));

    let users = catalog.get_table("lake_db", "raw_users").unwrap();
    assert_eq!(columns(&users), pairs(&[("id", "bigint"), ("profile", "struct<age:bigint,tags:array<string>>")]));
    assert_eq!(users.property("classification"), Some("json"));
    let metrics_table = catalog.get_table("lake_db", "raw_metrics").unwrap();
    assert_eq!(metrics_table.property("classification"), Some("parquet"));
    assert_eq!(metrics_table.property("recordCount"), Some("100"));
    assert_eq!(columns(&metrics_table)[2], ("price".to_string(), "decimal(10,2)".to_string()));

    // a new folder with an extra column: a new partition and a new table version
    put(&objects, "raw/events/year=2026/month=03/a.csv", "id,name,amount,note\n5,e,5.5,hi\n").await;
    let c = crawl(&crawlers, "c1").await;
    assert_eq!(c.last_crawl.unwrap().status, LastCrawlStatus::Succeeded);
    let events = catalog.get_table("lake_db", "raw_events").unwrap();
    assert_eq!(events.version_id.as_deref(), Some("1"));
    assert_eq!(columns(&events).last().unwrap(), &("note".to_string(), "string".to_string()));
    let (versions, _) = catalog.get_table_versions("lake_db", "raw_events", None, None).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].table.columns().len(), 3);
    assert_eq!(partition_values(&catalog, "raw_events").len(), 3);
    let m = metrics(&crawlers, "c1");
    assert_eq!((m.tables_created, m.tables_updated, m.tables_deleted), (0, 1, 0));

    // nothing changed: no new version
    crawl(&crawlers, "c1").await;
    assert_eq!(catalog.get_table("lake_db", "raw_events").unwrap().version_id.as_deref(), Some("1"));
    assert_eq!(metrics(&crawlers, "c1").tables_updated, 0);

    // data gone: deprecated by default
    objects.delete_object("lake", "raw/users/u.json", None).await.unwrap();
    crawl(&crawlers, "c1").await;
    let users = catalog.get_table("lake_db", "raw_users").unwrap();
    assert!(users.parameters.contains_key("DEPRECATED_BY_CRAWLER"));
    assert_eq!(metrics(&crawlers, "c1").tables_deleted, 1);
    // data back: current again
    put(&objects, "raw/users/u.json", "{\"id\": 1, \"profile\": {\"age\": 3, \"tags\": [\"x\"]}}\n").await;
    crawl(&crawlers, "c1").await;
    let users = catalog.get_table("lake_db", "raw_users").unwrap();
    assert!(!users.parameters.contains_key("DEPRECATED_BY_CRAWLER"));
    assert_eq!(metrics(&crawlers, "c1").tables_updated, 1);
    objects.delete_object("lake", "raw/users/u.json", None).await.unwrap();

    // DELETE_FROM_DATABASE removes tables and partitions whose data is gone
    let update: UpdateCrawlerRequest = serde_json::from_value(serde_json::json!({
        "Name": "c1",
        "SchemaChangePolicy": {"DeleteBehavior": "DELETE_FROM_DATABASE"}
    }))
    .unwrap();
    crawlers.update_crawler(update).await.unwrap();
    let c = crawlers.get_crawler("c1").unwrap();
    assert_eq!(c.version, 2);
    assert_eq!(c.update_behavior(), UpdateBehavior::UpdateInDatabase);
    objects.delete_object("lake", "raw/metrics/part-0.parquet", None).await.unwrap();
    objects.delete_object("lake", "raw/events/year=2026/month=01/a.csv", None).await.unwrap();
    crawl(&crawlers, "c1").await;
    assert!(matches!(catalog.get_table("lake_db", "raw_metrics"), Err(CatalogError::EntityNotFound(_))));
    assert!(matches!(catalog.get_table("lake_db", "raw_users"), Err(CatalogError::EntityNotFound(_))));
    assert_eq!(partition_values(&catalog, "raw_events"), [["2026", "02"], ["2026", "03"]]);
    let m = metrics(&crawlers, "c1");
    assert_eq!(m.tables_deleted, 2);
    assert!(m.median_runtime_seconds > 0.0 && m.last_runtime_seconds > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_folders_only() {
    let dir = tempfile::tempdir().unwrap();
    let Env { objects, catalog, crawlers } = env(dir.path()).await;
    objects.create_bucket("lake").await.unwrap();
    put(&objects, "inc/sales/2026/01/a.csv", "id,total\n1,2.5\n").await;
    put(&objects, "inc/sales/2026/02/a.csv", "id,total\n2,3.5\n").await;
    let mut req = request("inc", "s3://lake/inc/");
    req.recrawl_policy = Some(RecrawlPolicy { recrawl_behavior: Some(RecrawlBehavior::CrawlNewFoldersOnly) });
    let mut bad = req.clone();
    bad.name = "bad".into();
    bad.schema_change_policy =
        Some(SchemaChangePolicy { update_behavior: Some(UpdateBehavior::UpdateInDatabase), delete_behavior: None });
    assert!(matches!(crawlers.create_crawler(bad).await, Err(CrawlerError::InvalidInput(_))));
    crawlers.create_crawler(req).await.unwrap();
    let c = crawlers.get_crawler("inc").unwrap();
    assert_eq!(c.delete_behavior(), DeleteBehavior::Log);
    crawl(&crawlers, "inc").await;
    let sales = catalog.get_table("lake_db", "raw_sales").unwrap();
    assert_eq!(sales.partition_keys.len(), 2);
    assert_eq!(partition_values(&catalog, "raw_sales"), [["2026", "01"], ["2026", "02"]]);

    // a changed file in a crawled folder is not looked at; a new folder becomes a partition
    put(&objects, "inc/sales/2026/01/b.csv", "id,total,extra\n1,2.5,x\n").await;
    put(&objects, "inc/sales/2027/01/a.csv", "id,total\n3,4.5\n").await;
    let c = crawl(&crawlers, "inc").await;
    assert_eq!(c.last_crawl.unwrap().status, LastCrawlStatus::Succeeded);
    assert_eq!(partition_values(&catalog, "raw_sales"), [["2026", "01"], ["2026", "02"], ["2027", "01"]]);
    let sales = catalog.get_table("lake_db", "raw_sales").unwrap();
    assert_eq!(sales.version_id.as_deref(), Some("0"));
    assert_eq!(sales.columns().len(), 2);
    let m = metrics(&crawlers, "inc");
    assert_eq!((m.tables_created, m.tables_updated), (0, 0));
    // a new dataset next to it is a new table
    put(&objects, "inc/orders/x.json", "{\"a\": 1}\n").await;
    crawl(&crawlers, "inc").await;
    assert!(catalog.get_table("lake_db", "raw_orders").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_state_errors() {
    let dir = tempfile::tempdir().unwrap();
    let Env { objects, catalog, crawlers } = env(dir.path()).await;
    objects.create_bucket("lake").await.unwrap();
    for i in 0..5 {
        put(&objects, &format!("raw/t{i}/a.csv"), "a,b\n1,x\n").await;
    }
    crawlers.create_crawler(request("c", "s3://lake/raw/")).await.unwrap();
    assert!(matches!(
        crawlers.create_crawler(request("c", "s3://lake/raw/")).await,
        Err(CrawlerError::AlreadyExists(_))
    ));
    assert!(matches!(crawlers.stop_crawler("c").await, Err(CrawlerError::CrawlerNotRunning(_))));
    assert!(matches!(crawlers.start_crawler("nope").await, Err(CrawlerError::EntityNotFound(_))));

    // hold the crawl before its first read
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *crawlers.inner.gate.lock().unwrap() = Some(gate.clone());
    crawlers.start_crawler("c").await.unwrap();
    let c = crawlers.get_crawler("c").unwrap();
    assert_eq!(c.state, CrawlerState::Running);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(crawlers.get_crawler("c").unwrap().crawl_elapsed_time > 0);
    assert!(matches!(crawlers.start_crawler("c").await, Err(CrawlerError::CrawlerRunning(_))));
    assert!(matches!(crawlers.delete_crawler("c").await, Err(CrawlerError::CrawlerRunning(_))));
    let update = UpdateCrawlerRequest { name: "c".into(), description: Some("x".into()), ..Default::default() };
    assert!(matches!(crawlers.update_crawler(update).await, Err(CrawlerError::CrawlerRunning(_))));
    crawlers.stop_crawler("c").await.unwrap();
    assert_eq!(crawlers.get_crawler("c").unwrap().state, CrawlerState::Stopping);
    assert!(matches!(crawlers.stop_crawler("c").await, Err(CrawlerError::CrawlerStopping(_))));
    gate.add_permits(1000);
    let c = wait_ready(&crawlers, "c").await;
    assert_eq!(c.last_crawl.unwrap().status, LastCrawlStatus::Cancelled);
    assert!(catalog.get_tables("lake_db", None, None, None).unwrap().0.is_empty());
    assert_eq!(c.crawl_elapsed_time, 0);

    // it runs again, to the end: compatible folders side by side are one table's partitions
    let c = crawl(&crawlers, "c").await;
    assert_eq!(c.last_crawl.unwrap().status, LastCrawlStatus::Succeeded);
    let (tables, _) = catalog.get_tables("lake_db", None, None, None).unwrap();
    assert_eq!(tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["raw_raw"]);
    assert_eq!(partition_values(&catalog, "raw_raw").len(), 5);
    crawlers.delete_crawler("c").await.unwrap();
    assert!(matches!(crawlers.get_crawler("c"), Err(CrawlerError::EntityNotFound(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let Env { crawlers, .. } = env(dir.path()).await;
    crawlers.create_crawler(request("c", "s3://missing-bucket/x/")).await.unwrap();
    let c = crawl(&crawlers, "c").await;
    let last = c.last_crawl.unwrap();
    assert_eq!(last.status, LastCrawlStatus::Failed);
    assert!(last.error_message.unwrap().contains("missing-bucket"));
}

#[tokio::test]
async fn restart_recovers_interrupted_crawls() {
    let dir = tempfile::tempdir().unwrap();
    {
        let env = env(dir.path()).await;
        env.crawlers.create_crawler(request("c", "s3://lake/raw/")).await.unwrap();
        // what a crash mid-crawl leaves behind
        env.crawlers
            .modify("c", |rec| {
                rec.crawler.state = CrawlerState::Stopping;
                rec.run = Some(RunInfo { id: "run-1".into(), started: 1000.0 });
                Ok(())
            })
            .await
            .unwrap();
    }
    let env = env(dir.path()).await;
    let c = env.crawlers.get_crawler("c").unwrap();
    assert_eq!(c.state, CrawlerState::Ready);
    let last = c.last_crawl.unwrap();
    assert_eq!(last.status, LastCrawlStatus::Failed);
    assert_eq!(last.error_message.as_deref(), Some(INTERRUPTED));
    assert_eq!(last.start_time, Some(1000.0));
    assert_eq!(last.message_prefix.as_deref(), Some("run-1"));
}

#[tokio::test]
async fn definitions_pages_and_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path()).await;
    let c = &env.crawlers;
    for i in 0..5 {
        let mut req = request(&format!("c{i}"), "s3://lake/raw/");
        if i % 2 == 0 {
            req.tags.insert("team".into(), "a".into());
        }
        c.create_crawler(req).await.unwrap();
    }
    let mut bad = request("x", "s3://lake/raw/");
    bad.schedule = Some("cron(0 12 * * * *)".into());
    assert!(matches!(c.create_crawler(bad).await, Err(CrawlerError::InvalidInput(_))));
    let mut bad = request("x", "not-s3");
    bad.targets.s3_targets[0].path = Some("http://x".into());
    assert!(matches!(c.create_crawler(bad).await, Err(CrawlerError::InvalidInput(_))));
    let mut bad = request("x", "s3://lake/raw/");
    bad.targets.s3_targets[0].exclusions = vec!["{a,{b}}".into()];
    assert!(matches!(c.create_crawler(bad).await, Err(CrawlerError::InvalidInput(_))));
    let mut bad = request("x", "s3://lake/raw/");
    bad.configuration = Some("not json".into());
    assert!(matches!(c.create_crawler(bad).await, Err(CrawlerError::InvalidInput(_))));

    let page = c.get_crawlers(GetCrawlersRequest { max_results: Some(2), next_token: None }).unwrap();
    assert_eq!(page.crawlers.len(), 2);
    let rest = c.get_crawlers(GetCrawlersRequest { max_results: Some(10), next_token: page.next_token }).unwrap();
    assert_eq!(rest.crawlers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["c2", "c3", "c4"]);
    assert!(rest.next_token.is_none());
    let tagged = c
        .list_crawlers(ListCrawlersRequest {
            tags: [("team".to_string(), "a".to_string())].into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(tagged.crawler_names, ["c0", "c2", "c4"]);
    let batch =
        c.batch_get_crawlers(BatchGetCrawlersRequest { crawler_names: vec!["c1".into(), "zz".into()] }).unwrap();
    assert_eq!((batch.crawlers.len(), batch.crawlers_not_found), (1, vec!["zz".to_string()]));

    // the wire shape
    let json = serde_json::to_value(c.get_crawler("c0").unwrap()).unwrap();
    assert_eq!(json["Targets"]["S3Targets"][0]["Exclusions"][0], "logs/**");
    assert_eq!(json["Targets"]["JdbcTargets"], serde_json::json!([]));
    assert_eq!(json["State"], "READY");
    assert_eq!(json["SchemaChangePolicy"]["UpdateBehavior"], "UPDATE_IN_DATABASE");
    assert_eq!(json["SchemaChangePolicy"]["DeleteBehavior"], "DEPRECATE_IN_DATABASE");
    assert_eq!(json["RecrawlPolicy"]["RecrawlBehavior"], "CRAWL_EVERYTHING");
    assert_eq!(json["Version"], 1);
    assert!(json["CreationTime"].is_f64());
    assert!(json.get("Schedule").is_none());

    // schedules
    assert!(matches!(c.start_crawler_schedule("c0").await, Err(CrawlerError::NoSchedule(_))));
    assert!(matches!(c.stop_crawler_schedule("c0").await, Err(CrawlerError::SchedulerNotRunning(_))));
    assert!(matches!(c.update_crawler_schedule("c0", Some("cron(bad)")).await, Err(CrawlerError::InvalidInput(_))));
    c.update_crawler_schedule("c0", Some("cron(0 12 * * ? *)")).await.unwrap();
    let s = c.get_crawler("c0").unwrap().schedule.unwrap();
    assert_eq!(s.state, Some(ScheduleState::Scheduled));
    assert!(matches!(c.start_crawler_schedule("c0").await, Err(CrawlerError::SchedulerRunning(_))));
    c.stop_crawler_schedule("c0").await.unwrap();
    assert_eq!(c.get_crawler("c0").unwrap().schedule.unwrap().state, Some(ScheduleState::NotScheduled));
    // not scheduled: not started even when due
    let noon = 1_795_694_400; // 2026-11-26 12:00:00 UTC
    assert!(c.start_due(noon - 30, noon + 30).await.unwrap().is_empty());
    c.start_crawler_schedule("c0").await.unwrap();
    assert!(c.start_due(noon + 30, noon + 90).await.unwrap().is_empty());
    // hold the crawl so the next tick finds it running
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *c.inner.gate.lock().unwrap() = Some(gate.clone());
    env.objects.create_bucket("lake").await.unwrap();
    put(&env.objects, "raw/t/a.csv", "a,b\n1,x\n").await;
    assert_eq!(c.start_due(noon - 30, noon + 30).await.unwrap(), ["c0"]);
    assert!(c.start_due(noon - 30, noon + 30).await.unwrap().is_empty());
    gate.add_permits(1000);
    assert_eq!(wait_ready(c, "c0").await.last_crawl.unwrap().status, LastCrawlStatus::Succeeded);
    // an empty expression removes the schedule
    c.update_crawler_schedule("c0", Some("")).await.unwrap();
    assert!(c.get_crawler("c0").unwrap().schedule.is_none());

    // created with a schedule: scheduled
    let mut req = request("s", "s3://lake/raw/");
    req.schedule = Some("cron(15 12 ? * MON-FRI *)".into());
    c.create_crawler(req).await.unwrap();
    let s = c.get_crawler("s").unwrap().schedule.unwrap();
    assert_eq!(
        (s.schedule_expression.as_deref(), s.state),
        (Some("cron(15 12 ? * MON-FRI *)"), Some(ScheduleState::Scheduled))
    );
}

#[test]
fn time_left_is_the_median_less_the_time_spent() {
    // not running: nothing left, nothing to estimate
    assert_eq!(super::time_left(None, &[10.0]), (0.0, false));
    // a first run has nothing to go by
    assert_eq!(super::time_left(Some(3.0), &[]), (0.0, true));
    // the median of 4, 10 and 40 is 10; 3 seconds in, 7 are left
    assert_eq!(super::time_left(Some(3.0), &[40.0, 4.0, 10.0]), (7.0, false));
    // an even count takes the midpoint: (4 + 10) / 2 = 7
    assert_eq!(super::time_left(Some(1.5), &[4.0, 10.0]), (5.5, false));
    // past the median: still estimating, never negative
    assert_eq!(super::time_left(Some(12.0), &[10.0]), (0.0, true));
}
