use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, Delete, MetadataDirective, ObjectIdentifier};

use crate::s3::{bucket, failure, get_bytes, md5_hex, server};

#[tokio::test]
async fn put_get_head_with_metadata_and_encryption() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "docs").await;
    let body = b"{\"hello\":\"world\"}";
    let put = s3
        .put_object()
        .bucket("docs")
        .key("a/b.json")
        .body(ByteStream::from_static(body))
        .content_type("application/json")
        .content_encoding("identity")
        .content_disposition("attachment; filename=\"b.json\"")
        .content_language("en")
        .cache_control("max-age=60")
        .metadata("owner", "ml-team")
        .metadata("Run-Id", "42")
        .send()
        .await
        .unwrap();
    let etag = format!("\"{}\"", md5_hex(body));
    assert_eq!(put.e_tag(), Some(etag.as_str()));
    assert_eq!(put.server_side_encryption().map(|s| s.as_str()), Some("AES256"));

    let got = s3.get_object().bucket("docs").key("a/b.json").send().await.unwrap();
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert_eq!(got.content_type(), Some("application/json"));
    assert_eq!(got.content_encoding(), Some("identity"));
    assert_eq!(got.content_disposition(), Some("attachment; filename=\"b.json\""));
    assert_eq!(got.content_language(), Some("en"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(got.content_length(), Some(body.len() as i64));
    assert_eq!(got.server_side_encryption().map(|s| s.as_str()), Some("AES256"));
    let meta = got.metadata().unwrap();
    assert_eq!(meta.get("owner").map(String::as_str), Some("ml-team"));
    assert_eq!(meta.get("run-id").map(String::as_str), Some("42"));
    assert!(got.last_modified().is_some());
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body);

    let head = s3.head_object().bucket("docs").key("a/b.json").send().await.unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("AES256"));

    let (code, status) = failure(s3.get_object().bucket("docs").key("missing").send().await);
    assert_eq!((code.as_str(), status), ("NoSuchKey", 404));
    let (_, status) = failure(s3.head_object().bucket("docs").key("missing").send().await);
    assert_eq!(status, 404);

    // overwrite: last writer wins
    crate::s3::put(&s3, "docs", "a/b.json", b"v2").await;
    assert_eq!(get_bytes(&s3, "docs", "a/b.json").await, b"v2");

    // empty object
    crate::s3::put(&s3, "docs", "empty", b"").await;
    assert_eq!(get_bytes(&s3, "docs", "empty").await, b"");

    // the bytes on disk are sealed: the plaintext appears nowhere in the data dir
    let marker = b"plaintext-marker-that-must-not-hit-the-disk-0123456789";
    crate::s3::put(&s3, "docs", "secret", marker).await;
    let big = [marker.as_slice(); 4000].concat();
    crate::s3::put(&s3, "docs", "secret-big", &big).await;
    assert_eq!(get_bytes(&s3, "docs", "secret-big").await, big);
    let mut found = false;
    for entry in walk(srv.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        if bytes.windows(marker.len()).any(|w| w == marker) {
            found = true;
        }
    }
    assert!(!found, "object plaintext found in the data dir");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[tokio::test]
async fn limits_on_keys_and_metadata() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "lim").await;
    let key_ok = "k".repeat(1024);
    crate::s3::put(&s3, "lim", &key_ok, b"x").await;
    assert_eq!(get_bytes(&s3, "lim", &key_ok).await, b"x");
    let key_long = "k".repeat(1025);
    let (code, status) =
        failure(s3.put_object().bucket("lim").key(&key_long).body(ByteStream::from_static(b"x")).send().await);
    assert_eq!((code.as_str(), status), ("KeyTooLongError", 400));
    // 2 KiB of user metadata (names plus values) is the limit, to the byte
    let at_limit = "v".repeat(2048 - "edge".len());
    s3.put_object()
        .bucket("lim")
        .key("edge")
        .metadata("edge", &at_limit)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let over = "v".repeat(2049 - "edge".len());
    let (code, _) = failure(
        s3.put_object()
            .bucket("lim")
            .key("edge2")
            .metadata("edge", &over)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!(code, "MetadataTooLarge");
    let big_value = "v".repeat(2100);
    let (code, status) = failure(
        s3.put_object()
            .bucket("lim")
            .key("meta")
            .metadata("big", &big_value)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("MetadataTooLarge", 400));
    let (code, _) = failure(s3.get_object().bucket("lim").key("meta").send().await);
    assert_eq!(code, "NoSuchKey", "a refused PUT stores nothing");
}

#[tokio::test]
async fn ranges() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "rng").await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    crate::s3::put(&s3, "rng", "obj", &data).await;
    for (range, expected, content_range) in [
        ("bytes=0-4", &data[0..5], "bytes 0-4/200000"),
        ("bytes=65530-65545", &data[65530..65546], "bytes 65530-65545/200000"),
        ("bytes=199990-", &data[199_990..], "bytes 199990-199999/200000"),
        ("bytes=-3", &data[199_997..], "bytes 199997-199999/200000"),
        ("bytes=150000-999999", &data[150_000..], "bytes 150000-199999/200000"),
    ] {
        let out = s3.get_object().bucket("rng").key("obj").range(range).send().await.unwrap();
        assert_eq!(out.content_range(), Some(content_range), "{range}");
        assert_eq!(out.content_length(), Some(expected.len() as i64));
        assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), expected, "{range}");
    }
    let (code, status) = failure(s3.get_object().bucket("rng").key("obj").range("bytes=200000-200010").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRange", 416));
}

#[tokio::test]
async fn conditional_reads_and_writes() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "cond").await;
    let put = crate::s3::put(&s3, "cond", "k", b"conditional").await;
    let etag = put.e_tag().unwrap().to_string();
    s3.get_object().bucket("cond").key("k").if_match(&etag).send().await.expect("If-Match hit");
    let (code, status) = failure(s3.get_object().bucket("cond").key("k").if_match("\"0000\"").send().await);
    assert_eq!((code.as_str(), status), ("PreconditionFailed", 412));
    let (_, status) = failure(s3.get_object().bucket("cond").key("k").if_none_match(&etag).send().await);
    assert_eq!(status, 304);
    s3.get_object().bucket("cond").key("k").if_none_match("\"other\"").send().await.expect("If-None-Match miss");
    let future = DateTime::from_secs(4_000_000_000);
    let past = DateTime::from_secs(1_000_000_000);
    let (_, status) = failure(s3.get_object().bucket("cond").key("k").if_modified_since(future).send().await);
    assert_eq!(status, 304);
    s3.get_object().bucket("cond").key("k").if_modified_since(past).send().await.expect("modified since 2001");
    let (code, status) = failure(s3.get_object().bucket("cond").key("k").if_unmodified_since(past).send().await);
    assert_eq!((code.as_str(), status), ("PreconditionFailed", 412));
    let (_, status) = failure(s3.head_object().bucket("cond").key("k").if_none_match(&etag).send().await);
    assert_eq!(status, 304);

    // conditional writes: create-only
    let (code, status) = failure(
        s3.put_object().bucket("cond").key("k").if_none_match("*").body(ByteStream::from_static(b"x")).send().await,
    );
    assert_eq!((code.as_str(), status), ("PreconditionFailed", 412));
    assert_eq!(get_bytes(&s3, "cond", "k").await, b"conditional");
    s3.put_object()
        .bucket("cond")
        .key("new")
        .if_none_match("*")
        .body(ByteStream::from_static(b"first"))
        .send()
        .await
        .unwrap();
    // compare-and-swap on the ETag
    let (code, _) = failure(
        s3.put_object().bucket("cond").key("k").if_match("\"stale\"").body(ByteStream::from_static(b"x")).send().await,
    );
    assert_eq!(code, "PreconditionFailed");
    s3.put_object()
        .bucket("cond")
        .key("k")
        .if_match(&etag)
        .body(ByteStream::from_static(b"swapped"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, "cond", "k").await, b"swapped");
}

#[tokio::test]
async fn delete_and_batch_delete() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "del").await;
    for k in ["a", "b", "c", "d"] {
        crate::s3::put(&s3, "del", k, k.as_bytes()).await;
    }
    s3.delete_object().bucket("del").key("a").send().await.unwrap();
    s3.delete_object().bucket("del").key("never-existed").send().await.expect("deleting a missing key succeeds");
    let ids = |keys: &[&str]| {
        Delete::builder()
            .set_objects(Some(keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect()))
            .build()
            .unwrap()
    };
    let out = s3.delete_objects().bucket("del").delete(ids(&["b", "c", "zzz"])).send().await.unwrap();
    let mut deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["b", "c", "zzz"]);
    assert!(out.errors().is_empty());
    let quiet =
        Delete::builder().objects(ObjectIdentifier::builder().key("d").build().unwrap()).quiet(true).build().unwrap();
    let out = s3.delete_objects().bucket("del").delete(quiet).send().await.unwrap();
    assert!(out.deleted().is_empty());
    let listed = s3.list_objects_v2().bucket("del").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
}

#[tokio::test]
async fn copy_object_directives_and_errors() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "src").await;
    bucket(&s3, "dst").await;
    let body = tarn_testkit::pseudo_random_bytes(3, 300_000);
    let put = s3
        .put_object()
        .bucket("src")
        .key("orig")
        .content_type("text/csv")
        .metadata("stage", "raw")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    // COPY (default): metadata follows
    let out = s3.copy_object().bucket("dst").key("copy").copy_source("src/orig").send().await.unwrap();
    assert_eq!(out.copy_object_result().and_then(|r| r.e_tag()), put.e_tag());
    assert_eq!(out.server_side_encryption().map(|s| s.as_str()), Some("AES256"));
    let head = s3.head_object().bucket("dst").key("copy").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/csv"));
    assert_eq!(head.metadata().unwrap().get("stage").map(String::as_str), Some("raw"));
    assert_eq!(get_bytes(&s3, "dst", "copy").await, body);
    // REPLACE: new metadata
    s3.copy_object()
        .bucket("dst")
        .key("replaced")
        .copy_source("src/orig")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/octet-stream")
        .metadata("stage", "clean")
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket("dst").key("replaced").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/octet-stream"));
    assert_eq!(head.metadata().unwrap().get("stage").map(String::as_str), Some("clean"));
    // key with characters that need encoding in x-amz-copy-source
    crate::s3::put(&s3, "src", "dir/with space+plus&amp", b"odd key").await;
    s3.copy_object().bucket("dst").key("odd").copy_source("src/dir/with%20space%2Bplus%26amp").send().await.unwrap();
    assert_eq!(get_bytes(&s3, "dst", "odd").await, b"odd key");
    // copying onto itself without changes is refused
    let (code, status) = failure(s3.copy_object().bucket("src").key("orig").copy_source("src/orig").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequest", 400));
    // with REPLACE it is allowed
    s3.copy_object()
        .bucket("src")
        .key("orig")
        .copy_source("src/orig")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("stage", "self")
        .send()
        .await
        .unwrap();
    let (code, status) = failure(s3.copy_object().bucket("dst").key("x").copy_source("src/missing").send().await);
    assert_eq!((code.as_str(), status), ("NoSuchKey", 404));
    let (code, status) = failure(
        s3.copy_object().bucket("dst").key("x").copy_source("src/orig").copy_source_if_match("\"nope\"").send().await,
    );
    assert_eq!((code.as_str(), status), ("PreconditionFailed", 412));
}

#[tokio::test]
async fn flexible_checksums() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "cks").await;
    let body = b"hello world";
    let expected = [
        (ChecksumAlgorithm::Crc32, "DUoRhQ=="),
        (ChecksumAlgorithm::Crc32C, "yZRlqg=="),
        (ChecksumAlgorithm::Sha1, "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
        (ChecksumAlgorithm::Sha256, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
    ];
    for (alg, value) in &expected {
        let key = format!("k-{}", alg.as_str());
        let put = s3
            .put_object()
            .bucket("cks")
            .key(&key)
            .checksum_algorithm(alg.clone())
            .body(ByteStream::from_static(body))
            .send()
            .await
            .unwrap();
        let got = s3.get_object().bucket("cks").key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let reported = match alg {
            ChecksumAlgorithm::Crc32 => (put.checksum_crc32(), got.checksum_crc32()),
            ChecksumAlgorithm::Crc32C => (put.checksum_crc32_c(), got.checksum_crc32_c()),
            ChecksumAlgorithm::Sha1 => (put.checksum_sha1(), got.checksum_sha1()),
            _ => (put.checksum_sha256(), got.checksum_sha256()),
        };
        assert_eq!(reported, (Some(*value), Some(*value)), "{alg:?}");
        assert_eq!(got.checksum_type().map(|t| t.as_str()), Some("FULL_OBJECT"));
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body);
    }
    // a wrong checksum is refused and stores nothing
    let (code, status) = failure(
        s3.put_object()
            .bucket("cks")
            .key("bad")
            .checksum_crc32("AAAAAA==")
            .body(ByteStream::from_static(body))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("BadDigest", 400));
    let (code, _) = failure(s3.get_object().bucket("cks").key("bad").send().await);
    assert_eq!(code, "NoSuchKey");
    // default: CRC64NVME computed for objects sent without a checksum
    let out = s3.head_object().bucket("cks").key("k-CRC32").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert!(out.checksum_crc32().is_some());
    // Content-MD5
    use base64::Engine as _;
    let good_md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest_bytes(body));
    s3.put_object()
        .bucket("cks")
        .key("md5")
        .content_md5(&good_md5)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap();
    let wrong_md5 = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let (code, status) = failure(
        s3.put_object()
            .bucket("cks")
            .key("md5bad")
            .content_md5(&wrong_md5)
            .body(ByteStream::from_static(body))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("BadDigest", 400));
    let (code, status) = failure(
        s3.put_object()
            .bucket("cks")
            .key("md5bad")
            .content_md5("not-base64!")
            .body(ByteStream::from_static(body))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidDigest", 400));
}

trait DigestBytes {
    fn digest_bytes(data: &[u8]) -> [u8; 16];
}

impl DigestBytes for md5::Md5 {
    fn digest_bytes(data: &[u8]) -> [u8; 16] {
        use md5::Digest;
        md5::Md5::digest(data).into()
    }
}

/// A GET that started before an overwrite keeps reading the version it found, even after the
/// overwrite's commit released that version's blob file.
#[tokio::test]
async fn reader_survives_concurrent_overwrite() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "race").await;
    let old = tarn_testkit::pseudo_random_bytes(31, 8 * 1024 * 1024);
    crate::s3::put(&s3, "race", "k", &old).await;
    let mut reading = s3.get_object().bucket("race").key("k").send().await.unwrap().body;
    let first = reading.next().await.unwrap().unwrap();
    for i in 0..3u8 {
        crate::s3::put(&s3, "race", "k", &vec![i; 1024 * 1024]).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let mut got = first.to_vec();
    while let Some(chunk) = reading.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got.len(), old.len());
    assert!(got == old, "the in-flight GET returned bytes of another version");
    assert_eq!(get_bytes(&s3, "race", "k").await, vec![2u8; 1024 * 1024]);
}

/// Create-only writes race safely: of 16 concurrent `If-None-Match: *` PUTs, exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_create_only_puts_have_one_winner() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "once").await;
    let mut racers = Vec::new();
    for i in 0..16u8 {
        let s3 = s3.clone();
        racers.push(tokio::spawn(async move {
            let r = s3
                .put_object()
                .bucket("once")
                .key("k")
                .if_none_match("*")
                .body(ByteStream::from(vec![i; 1000]))
                .send()
                .await;
            (i, r.map_err(|e| e.raw_response().map_or(0, |r| r.status().as_u16())))
        }));
    }
    let mut winners = Vec::new();
    for r in racers {
        match r.await.unwrap() {
            (i, Ok(_)) => winners.push(i),
            (_, Err(status)) => assert_eq!(status, 412),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create-only PUT may succeed");
    assert_eq!(get_bytes(&s3, "once", "k").await, vec![winners[0]; 1000]);
}

/// Objects sent without any checksum get a CRC64NVME computed and stored, as S3 does.
#[tokio::test]
async fn default_checksum_is_crc64nvme() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "dflt").await;
    let resp =
        crate::s3::auth::signed(&srv, "PUT", "/dflt/raw", "", &tarn_testkit::sign::amz_date_now(), b"hello world");
    assert_eq!(resp.status, 200);
    let head = s3.head_object().bucket("dflt").key("raw").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    let reference = s3
        .put_object()
        .bucket("dflt")
        .key("sdk")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(ByteStream::from_static(b"hello world"))
        .send()
        .await
        .unwrap();
    assert!(head.checksum_crc64_nvme().is_some());
    assert_eq!(head.checksum_crc64_nvme(), reference.checksum_crc64_nvme());
    assert_eq!(head.checksum_type().map(|t| t.as_str()), Some("FULL_OBJECT"));
    assert!(head.checksum_crc32().is_none());
}
