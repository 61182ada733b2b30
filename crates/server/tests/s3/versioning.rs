use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use crate::s3::{bucket, failure, get_bytes, put, server};

async fn set_versioning(s3: &aws_sdk_s3::Client, b: &str, status: BucketVersioningStatus) {
    s3.put_bucket_versioning()
        .bucket(b)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn versions_delete_markers_and_null_version() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "ver").await;
    assert!(s3.get_bucket_versioning().bucket("ver").send().await.unwrap().status().is_none());
    // a pre-versioning object becomes the "null" version
    put(&s3, "ver", "doc", b"v0").await;
    set_versioning(&s3, "ver", BucketVersioningStatus::Enabled).await;
    assert_eq!(
        s3.get_bucket_versioning().bucket("ver").send().await.unwrap().status(),
        Some(&BucketVersioningStatus::Enabled)
    );
    let v1 = put(&s3, "ver", "doc", b"v1").await.version_id().unwrap().to_string();
    let v2 = put(&s3, "ver", "doc", b"v2").await.version_id().unwrap().to_string();
    assert_ne!(v1, v2);
    assert_eq!(get_bytes(&s3, "ver", "doc").await, b"v2");
    let old = s3.get_object().bucket("ver").key("doc").version_id(&v1).send().await.unwrap();
    assert_eq!(old.version_id(), Some(v1.as_str()));
    assert_eq!(old.body.collect().await.unwrap().into_bytes().as_ref(), b"v1");
    let null = s3.get_object().bucket("ver").key("doc").version_id("null").send().await.unwrap();
    assert_eq!(null.body.collect().await.unwrap().into_bytes().as_ref(), b"v0");
    let head = s3.head_object().bucket("ver").key("doc").version_id(&v2).send().await.unwrap();
    assert_eq!(head.version_id(), Some(v2.as_str()));

    // delete without a version id adds a delete marker
    let del = s3.delete_object().bucket("ver").key("doc").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del.version_id().unwrap().to_string();
    let err = s3.get_object().bucket("ver").key("doc").send().await.unwrap_err();
    let raw = err.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 404);
    assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("true"));
    let (code, status) = failure(s3.get_object().bucket("ver").key("doc").version_id(&marker).send().await);
    assert_eq!((code.as_str(), status), ("MethodNotAllowed", 405));
    assert!(s3.list_objects_v2().bucket("ver").send().await.unwrap().contents().is_empty());

    let listing = s3.list_object_versions().bucket("ver").send().await.unwrap();
    let versions: Vec<_> =
        listing.versions().iter().map(|v| (v.version_id().unwrap().to_string(), v.is_latest().unwrap())).collect();
    assert_eq!(versions, [(v2.clone(), false), (v1.clone(), false), ("null".to_string(), false)]);
    let markers: Vec<_> = listing
        .delete_markers()
        .iter()
        .map(|m| (m.version_id().unwrap().to_string(), m.is_latest().unwrap()))
        .collect();
    assert_eq!(markers, [(marker.clone(), true)]);

    // pagination of versions
    let page = s3.list_object_versions().bucket("ver").max_keys(2).send().await.unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    let ids = |p: &aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput| {
        let mut all: Vec<(String, bool)> = p
            .versions()
            .iter()
            .map(|v| (v.version_id().unwrap().to_string(), v.is_latest().unwrap()))
            .chain(p.delete_markers().iter().map(|m| (m.version_id().unwrap().to_string(), m.is_latest().unwrap())))
            .collect();
        // newest first, as S3 orders one key's versions
        let order = [marker.clone(), v2.clone(), v1.clone(), "null".to_string()];
        all.sort_by_key(|(id, _)| order.iter().position(|o| o == id));
        all
    };
    assert_eq!(ids(&page), [(marker.clone(), true), (v2.clone(), false)]);
    let rest = s3
        .list_object_versions()
        .bucket("ver")
        .key_marker(page.next_key_marker().unwrap())
        .version_id_marker(page.next_version_id_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.is_truncated(), Some(false));
    assert_eq!(ids(&rest), [(v1.clone(), false), ("null".to_string(), false)]);

    // removing the marker restores the object; removing a version deletes it for good
    let del = s3.delete_object().bucket("ver").key("doc").version_id(&marker).send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    assert_eq!(get_bytes(&s3, "ver", "doc").await, b"v2");
    s3.delete_object().bucket("ver").key("doc").version_id(&v2).send().await.unwrap();
    assert_eq!(get_bytes(&s3, "ver", "doc").await, b"v1");
    let (code, status) = failure(s3.get_object().bucket("ver").key("doc").version_id(&v2).send().await);
    assert_eq!((code.as_str(), status), ("NoSuchVersion", 404));
    let (code, status) = failure(s3.get_object().bucket("ver").key("doc").version_id("garbage").send().await);
    assert_eq!((code.as_str(), status), ("InvalidArgument", 400));
    // a bucket with versions is not empty
    let (code, _) = failure(s3.delete_bucket().bucket("ver").send().await);
    assert_eq!(code, "BucketNotEmpty");
}

#[tokio::test]
async fn suspended_versioning_overwrites_the_null_version() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "sus").await;
    set_versioning(&s3, "sus", BucketVersioningStatus::Enabled).await;
    let kept = put(&s3, "sus", "k", b"versioned").await.version_id().unwrap().to_string();
    set_versioning(&s3, "sus", BucketVersioningStatus::Suspended).await;
    let a = put(&s3, "sus", "k", b"null-a").await;
    assert!(a.version_id().is_none_or(|v| v == "null"));
    put(&s3, "sus", "k", b"null-b").await;
    let listing = s3.list_object_versions().bucket("sus").send().await.unwrap();
    let ids: Vec<_> = listing.versions().iter().map(|v| v.version_id().unwrap().to_string()).collect();
    assert_eq!(ids, ["null".to_string(), kept.clone()], "the null version is replaced, not added");
    assert_eq!(get_bytes(&s3, "sus", "k").await, b"null-b");
    // delete in a suspended bucket: a null delete marker replaces the null version
    let del = s3.delete_object().bucket("sus").key("k").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    assert_eq!(del.version_id(), Some("null"));
    let listing = s3.list_object_versions().bucket("sus").send().await.unwrap();
    assert_eq!(listing.versions().len(), 1);
    assert_eq!(listing.delete_markers()[0].version_id(), Some("null"));
    let old = s3.get_object().bucket("sus").key("k").version_id(&kept).send().await.unwrap();
    assert_eq!(old.body.collect().await.unwrap().into_bytes().as_ref(), b"versioned");
}

#[tokio::test]
async fn copy_and_batch_delete_by_version() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "vcp").await;
    set_versioning(&s3, "vcp", BucketVersioningStatus::Enabled).await;
    let v1 = put(&s3, "vcp", "k", b"first").await.version_id().unwrap().to_string();
    let v2 = put(&s3, "vcp", "k", b"second").await.version_id().unwrap().to_string();
    // copy an older version
    let out =
        s3.copy_object().bucket("vcp").key("copied").copy_source(format!("vcp/k?versionId={v1}")).send().await.unwrap();
    assert_eq!(out.copy_source_version_id(), Some(v1.as_str()));
    assert!(out.version_id().is_some());
    assert_eq!(get_bytes(&s3, "vcp", "copied").await, b"first");
    // batch delete of one version and, with no version, a delete marker
    let delete = aws_sdk_s3::types::Delete::builder()
        .objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("k").version_id(&v2).build().unwrap())
        .objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("copied").build().unwrap())
        .build()
        .unwrap();
    let out = s3.delete_objects().bucket("vcp").delete(delete).send().await.unwrap();
    let deleted: Vec<_> = out.deleted().iter().map(|d| (d.key().unwrap(), d.version_id(), d.delete_marker())).collect();
    assert_eq!(deleted[0], ("k", Some(v2.as_str()), None));
    assert_eq!(deleted[1].0, "copied");
    assert_eq!(deleted[1].2, Some(true));
    assert!(out.deleted()[1].delete_marker_version_id().is_some());
    assert_eq!(get_bytes(&s3, "vcp", "k").await, b"first", "removing the newest version exposes the previous one");
    let (code, _) = failure(s3.get_object().bucket("vcp").key("copied").send().await);
    assert_eq!(code, "NoSuchKey");
}
