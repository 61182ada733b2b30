use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;

use super::*;

async fn open(dir: &tempfile::TempDir, now: &Arc<AtomicI64>) -> Audit {
    let store = Store::open(dir.path()).unwrap();
    let clock = now.clone();
    Audit::open_with_clock(
        store,
        &dir.path().join("audit"),
        "us-east-1",
        Arc::new(move || clock.load(Ordering::SeqCst)),
    )
    .await
    .unwrap()
}

fn event(name: &str, user: &str, data: bool) -> Value {
    json!({
        "eventName": name,
        "eventSource": "s3.amazonaws.com",
        "readOnly": name.starts_with("Get"),
        "managementEvent": !data,
        "userIdentity": {"type": "IAMUser", "userName": user, "accessKeyId": format!("AKIA{user}")},
        "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k"}],
    })
}

#[tokio::test]
async fn records_survive_a_reopen_and_lookup_pages_newest_first_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(1_700_000_000_000));
    let audit = open(&dir, &now).await;
    for i in 0..120 {
        now.fetch_add(10, Ordering::SeqCst);
        let user = if i % 2 == 0 { "ana" } else { "ben" };
        audit.record(&event(&format!("Op{i}"), user, i % 10 == 9)).await.unwrap();
    }
    drop(audit);
    let audit = open(&dir, &now).await;
    assert_eq!(audit.next_record(), 120, "every acknowledged record is there after a reopen");
    // 12 data events are not looked up; pages of 50, newest first
    let (page, next) = audit.lookup(&Lookup { max: 50, ..Lookup::default() }).unwrap();
    assert_eq!(page.len(), 50);
    assert_eq!(page[0]["eventName"], "Op118", "newest first (Op119 is a data event)");
    let (page2, next2) = audit.lookup(&Lookup { max: 50, before: next, ..Lookup::default() }).unwrap();
    let (page3, next3) = audit.lookup(&Lookup { max: 50, before: next2, ..Lookup::default() }).unwrap();
    assert_eq!((page2.len(), page3.len(), next3), (50, 8, None), "108 management events in all");
    let ben = Lookup { attribute: Some(("Username".into(), "ben".into())), max: 50, ..Lookup::default() };
    let (bens, _) = audit.lookup(&ben).unwrap();
    assert!(bens.iter().all(|e| e["userIdentity"]["userName"] == "ben") && bens.len() == 48);
    let one = Lookup { attribute: Some(("EventName".into(), "Op42".into())), max: 50, ..Lookup::default() };
    assert_eq!(audit.lookup(&one).unwrap().0.len(), 1);
    let bad = Lookup { start_ms: Some(5), end_ms: Some(4), max: 5, ..Lookup::default() };
    assert!(matches!(audit.lookup(&bad), Err(AuditError::InvalidTimeRange(_))));
}

#[test]
fn selectors_choose_management_and_data_events() {
    // selectors read a record's facets from its JSON bytes, as delivery does
    let json = |name: &str, data: bool| serde_json::to_vec(&event(name, "ana", data)).unwrap();
    let (policy, get, put, put_policy) = (
        json("GetBucketPolicy", false),
        json("GetObject", true),
        json("PutObject", true),
        json("PutBucketPolicy", false),
    );
    let facets = |bytes| crate::Facets::parse(bytes).unwrap();
    let default = EventSelector::default();
    assert!(default.takes(&facets(&policy)));
    assert!(!default.takes(&facets(&get)), "no data events unless selected");
    let data = EventSelector {
        read_write_type: "WriteOnly".into(),
        include_management_events: false,
        data_resources: vec![("AWS::S3::Object".into(), vec!["arn:aws:s3:::b/".into()])],
        exclude_management_event_sources: Vec::new(),
    };
    assert!(data.takes(&facets(&put)));
    assert!(!data.takes(&facets(&get)), "WriteOnly");
    assert!(!data.takes(&facets(&put_policy)), "no management events");
}
