use aws_sdk_s3::types::EncodingType;

use crate::s3::{bucket, put, server};

async fn fill(s3: &aws_sdk_s3::Client, keys: &[&str]) {
    for k in keys {
        put(s3, "lst", k, k.as_bytes()).await;
    }
}

#[tokio::test]
async fn list_v2_prefix_delimiter_pagination() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "lst").await;
    let keys = [
        "a.txt",
        "photos/2024/jan.jpg",
        "photos/2024/feb.jpg",
        "photos/2025/mar.jpg",
        "photos/top.jpg",
        "z",
        "é-accent",
        "Zed",
        "b/c/d",
    ];
    fill(&s3, &keys).await;

    // every key, in UTF-8 byte order
    let all = s3.list_objects_v2().bucket("lst").send().await.unwrap();
    let listed: Vec<_> = all.contents().iter().filter_map(|o| o.key()).collect();
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(listed, expected);
    assert_eq!(all.key_count(), Some(keys.len() as i32));
    assert_eq!(all.is_truncated(), Some(false));
    let obj = &all.contents()[0];
    assert!(obj.e_tag().is_some() && obj.size().is_some() && obj.last_modified().is_some());
    assert_eq!(obj.storage_class().map(|s| s.as_str()), Some("STANDARD"));

    // delimiter at the top level
    let top = s3.list_objects_v2().bucket("lst").delimiter("/").send().await.unwrap();
    let prefixes: Vec<_> = top.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["b/", "photos/"]);
    let files: Vec<_> = top.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(files, ["Zed", "a.txt", "z", "é-accent"]);

    // prefix + delimiter
    let photos = s3.list_objects_v2().bucket("lst").prefix("photos/").delimiter("/").send().await.unwrap();
    let prefixes: Vec<_> = photos.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["photos/2024/", "photos/2025/"]);
    let files: Vec<_> = photos.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(files, ["photos/top.jpg"]);

    // pagination with max-keys and continuation tokens, across common prefixes
    let mut token = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("lst")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.key_count().unwrap() <= 2);
        seen.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)));
        seen.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        if page.is_truncated() == Some(true) {
            token = page.next_continuation_token().map(str::to_string);
            assert!(token.is_some());
        } else {
            break;
        }
    }
    seen.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(seen, ["Zed", "a.txt", "b/", "photos/", "z", "é-accent"]);
    assert_eq!(pages, 3);

    // start-after
    let after = s3.list_objects_v2().bucket("lst").start_after("photos/2025/mar.jpg").send().await.unwrap();
    let files: Vec<_> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(files, ["photos/top.jpg", "z", "é-accent"]);

    // the paginator of the SDK walks everything
    let mut count = 0;
    let mut pages = s3.list_objects_v2().bucket("lst").max_keys(1).into_paginator().send();
    while let Some(page) = pages.next().await {
        count += page.unwrap().contents().len();
    }
    assert_eq!(count, keys.len());
}

#[tokio::test]
async fn list_v1_markers_and_url_encoding() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "lst").await;
    fill(&s3, &["a", "b/1", "b/2", "c", "d e+f"]).await;
    let first = s3.list_objects().bucket("lst").max_keys(2).send().await.unwrap();
    let keys: Vec<_> = first.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a", "b/1"]);
    assert_eq!(first.is_truncated(), Some(true));
    let second = s3.list_objects().bucket("lst").marker("b/1").send().await.unwrap();
    let keys: Vec<_> = second.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["b/2", "c", "d e+f"]);
    // with a delimiter, NextMarker names the last key or prefix returned
    let page = s3.list_objects().bucket("lst").delimiter("/").max_keys(2).send().await.unwrap();
    assert_eq!(page.next_marker(), Some("b/"));
    let rest = s3.list_objects().bucket("lst").delimiter("/").marker("b/").send().await.unwrap();
    let keys: Vec<_> = rest.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["c", "d e+f"]);
    assert!(rest.common_prefixes().is_empty());
    // encoding-type=url: the SDK decodes keys for us, so check the raw form too
    let enc = s3.list_objects_v2().bucket("lst").prefix("d").encoding_type(EncodingType::Url).send().await.unwrap();
    let key = enc.contents()[0].key().unwrap();
    assert!(key == "d e+f" || key == "d%20e%2Bf", "{key}");
    let raw = signed_get(&srv, "/lst", "encoding-type=url&list-type=2&prefix=d");
    assert!(raw.body_text().contains("<Key>d%20e%2Bf</Key>"), "{}", raw.body_text());
    assert_eq!(raw.status, 200);
    let (code, status) = crate::s3::failure(s3.list_objects_v2().bucket("missing-bucket").send().await);
    assert_eq!((code.as_str(), status), ("NoSuchBucket", 404));
}

/// A SigV4-signed GET with the canonical query given.
pub fn signed_get(srv: &tarn_testkit::TestServer, path: &str, query: &str) -> tarn_testkit::RawResponse {
    use tarn_testkit::sign;
    let date = sign::amz_date_now();
    let host = srv.addr.to_string();
    let payload = sign::sha256_hex(b"");
    let (auth, _) = sign::authorization(
        "GET",
        path,
        query,
        &[("host", &host), ("x-amz-date", &date), ("x-amz-content-sha256", &payload)],
        &payload,
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        &date,
    );
    let req = format!(
        "GET {path}?{query} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-content-sha256: {payload}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    tarn_testkit::raw_request(srv.addr, req.as_bytes()).unwrap()
}
