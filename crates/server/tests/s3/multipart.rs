use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};

use crate::s3::{bucket, failure, get_bytes, md5_hex, server};

const MIB: usize = 1024 * 1024;

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build()).collect(),
        ))
        .build()
}

#[tokio::test]
async fn multipart_upload_round_trip() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "mpu").await;
    let part1 = tarn_testkit::pseudo_random_bytes(1, 5 * MIB);
    let part2 = tarn_testkit::pseudo_random_bytes(2, 5 * MIB + 3);
    let part3 = tarn_testkit::pseudo_random_bytes(3, 1234);
    let create = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("big.bin")
        .content_type("application/x-data")
        .metadata("kind", "mp")
        .send()
        .await
        .unwrap();
    let upload_id = create.upload_id().unwrap().to_string();
    assert_eq!(create.server_side_encryption().map(|s| s.as_str()), Some("AES256"));

    let mut etags = Vec::new();
    for (n, data) in [(1, &part1), (2, &part2), (3, &part3)] {
        let out = s3
            .upload_part()
            .bucket("mpu")
            .key("big.bin")
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.e_tag().unwrap(), format!("\"{}\"", md5_hex(data)));
        etags.push(out.e_tag().unwrap().to_string());
    }
    // re-uploading a part replaces it
    let out = s3
        .upload_part()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&upload_id)
        .part_number(3)
        .body(ByteStream::from(part3.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(etags[2].as_str()));

    let parts = s3.list_parts().bucket("mpu").key("big.bin").upload_id(&upload_id).send().await.unwrap();
    let numbers: Vec<_> = parts.parts().iter().filter_map(|p| p.part_number()).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(parts.parts()[1].size(), Some((5 * MIB + 3) as i64));
    let page = s3.list_parts().bucket("mpu").key("big.bin").upload_id(&upload_id).max_parts(2).send().await.unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_part_number_marker(), Some("2"));
    let rest = s3
        .list_parts()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&upload_id)
        .part_number_marker("2")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.parts().len(), 1);

    let uploads = s3.list_multipart_uploads().bucket("mpu").send().await.unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(upload_id.as_str()));
    assert_eq!(uploads.uploads()[0].key(), Some("big.bin"));

    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])]))
        .send()
        .await
        .unwrap();
    // ETag: md5 of the concatenated binary part md5s, then "-N"
    let mut md5s = Vec::new();
    for data in [&part1, &part2, &part3] {
        use md5::Digest;
        md5s.extend_from_slice(&md5::Md5::digest(data));
    }
    let expected_etag = format!("\"{}-3\"", md5_hex(&md5s));
    assert_eq!(done.e_tag(), Some(expected_etag.as_str()));
    assert_eq!(done.server_side_encryption().map(|s| s.as_str()), Some("AES256"));

    let all = [part1.as_slice(), part2.as_slice(), part3.as_slice()].concat();
    assert_eq!(get_bytes(&s3, "mpu", "big.bin").await, all);
    let head = s3.head_object().bucket("mpu").key("big.bin").send().await.unwrap();
    assert_eq!(head.content_length(), Some(all.len() as i64));
    assert_eq!(head.e_tag(), Some(expected_etag.as_str()));
    assert_eq!(head.content_type(), Some("application/x-data"));
    assert_eq!(head.metadata().unwrap().get("kind").map(String::as_str), Some("mp"));
    // a range across the part boundary
    let r = s3
        .get_object()
        .bucket("mpu")
        .key("big.bin")
        .range(format!("bytes={}-{}", 5 * MIB - 10, 5 * MIB + 9))
        .send()
        .await
        .unwrap();
    assert_eq!(r.body.collect().await.unwrap().into_bytes().as_ref(), &all[5 * MIB - 10..5 * MIB + 10]);
    // partNumber reads
    let p2 = s3.get_object().bucket("mpu").key("big.bin").part_number(2).send().await.unwrap();
    assert_eq!(p2.parts_count(), Some(3));
    assert_eq!(p2.body.collect().await.unwrap().into_bytes().as_ref(), part2.as_slice());
    // the upload is gone
    let (code, status) = failure(s3.list_parts().bucket("mpu").key("big.bin").upload_id(&upload_id).send().await);
    assert_eq!((code.as_str(), status), ("NoSuchUpload", 404));
    assert!(s3.list_multipart_uploads().bucket("mpu").send().await.unwrap().uploads().is_empty());
}

#[tokio::test]
async fn multipart_errors_and_abort() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "mpu").await;
    let id = s3.create_multipart_upload().bucket("mpu").key("k").send().await.unwrap().upload_id().unwrap().to_string();
    let small = tarn_testkit::pseudo_random_bytes(9, 1000);
    let e1 = s3
        .upload_part()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    let e2 = s3
        .upload_part()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    // part 1 is below 5 MiB and not last
    let (code, status) = failure(
        s3.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityTooSmall", 400));
    let (code, _) = failure(
        s3.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(2, &e2), (1, &e1)]))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidPartOrder");
    let (code, _) = failure(
        s3.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, "\"0123\"")]))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidPart");
    let (code, _) = failure(
        s3.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(7, &e1)]))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidPart");
    for bad in [0, 10_001] {
        let (code, status) = failure(
            s3.upload_part()
                .bucket("mpu")
                .key("k")
                .upload_id(&id)
                .part_number(bad)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await,
        );
        assert_eq!((code.as_str(), status), ("InvalidArgument", 400), "part {bad}");
    }
    let (code, _) = failure(
        s3.upload_part()
            .bucket("mpu")
            .key("k")
            .upload_id("not-an-upload")
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchUpload");
    // a single small part is fine (it is the last part)
    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1)]))
        .send()
        .await
        .unwrap();
    assert!(done.e_tag().unwrap().ends_with("-1\""));
    assert_eq!(get_bytes(&s3, "mpu", "k").await, small);

    let id2 =
        s3.create_multipart_upload().bucket("mpu").key("gone").send().await.unwrap().upload_id().unwrap().to_string();
    s3.upload_part()
        .bucket("mpu")
        .key("gone")
        .upload_id(&id2)
        .part_number(1)
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap();
    s3.abort_multipart_upload().bucket("mpu").key("gone").upload_id(&id2).send().await.unwrap();
    let (code, status) = failure(s3.abort_multipart_upload().bucket("mpu").key("gone").upload_id(&id2).send().await);
    assert_eq!((code.as_str(), status), ("NoSuchUpload", 404));
    let (code, _) = failure(s3.get_object().bucket("mpu").key("gone").send().await);
    assert_eq!(code, "NoSuchKey");
    // no part files are left behind once uploads end
    let blobs = std::fs::read_dir(srv.data_dir().join("blobs")).unwrap().count();
    assert_eq!(blobs, 0, "small parts are inline; nothing should be on disk");
}

#[tokio::test]
async fn upload_part_copy_and_checksums() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "mpu").await;
    let source = tarn_testkit::pseudo_random_bytes(5, 6 * MIB);
    crate::s3::put(&s3, "mpu", "source", &source).await;
    let id = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("assembled")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let c1 = s3
        .upload_part_copy()
        .bucket("mpu")
        .key("assembled")
        .upload_id(&id)
        .part_number(1)
        .copy_source("mpu/source")
        .copy_source_range(format!("bytes=0-{}", 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    let e1 = c1.copy_part_result().unwrap().e_tag().unwrap().to_string();
    assert_eq!(e1, format!("\"{}\"", md5_hex(&source[..5 * MIB])));
    let tail = b"tail bytes".to_vec();
    let p2 = s3
        .upload_part()
        .bucket("mpu")
        .key("assembled")
        .upload_id(&id)
        .part_number(2)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(tail.clone()))
        .send()
        .await
        .unwrap();
    assert!(p2.checksum_crc32().is_some());
    let parts = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(&e1)
                .set_checksum_crc32(c1.copy_part_result().unwrap().checksum_crc32().map(str::to_string))
                .build(),
        )
        .parts(
            CompletedPart::builder()
                .part_number(2)
                .e_tag(p2.e_tag().unwrap())
                .set_checksum_crc32(p2.checksum_crc32().map(str::to_string))
                .build(),
        )
        .build();
    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("assembled")
        .upload_id(&id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    let composite = done.checksum_crc32().unwrap();
    assert!(composite.ends_with("-2"), "{composite}");
    let expected = [&source[..5 * MIB], tail.as_slice()].concat();
    let got = s3.get_object().bucket("mpu").key("assembled").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.checksum_crc32(), Some(composite));
    assert_eq!(got.checksum_type().map(|t| t.as_str()), Some("COMPOSITE"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), expected.as_slice());
    // copy range outside the source
    let (code, status) = failure(
        s3.upload_part_copy()
            .bucket("mpu")
            .key("assembled")
            .upload_id(&id)
            .part_number(1)
            .copy_source("mpu/source")
            .copy_source_range("bytes=0-99999999")
            .send()
            .await,
    );
    assert_eq!(status / 100, 4, "{code}");
}

#[tokio::test]
async fn list_multipart_uploads_prefix_delimiter_pagination() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "mpl").await;
    let mut ids = Vec::new();
    for key in ["a/1", "a/2", "b", "c/x/y", "c/z"] {
        let id =
            s3.create_multipart_upload().bucket("mpl").key(key).send().await.unwrap().upload_id().unwrap().to_string();
        ids.push((key.to_string(), id));
    }
    // two uploads of the same key list in creation order
    let again =
        s3.create_multipart_upload().bucket("mpl").key("b").send().await.unwrap().upload_id().unwrap().to_string();
    let all = s3.list_multipart_uploads().bucket("mpl").send().await.unwrap();
    let listed: Vec<_> =
        all.uploads().iter().map(|u| (u.key().unwrap().to_string(), u.upload_id().unwrap().to_string())).collect();
    let mut expected = ids.clone();
    expected.insert(3, ("b".to_string(), again.clone()));
    assert_eq!(listed, expected);
    let top = s3.list_multipart_uploads().bucket("mpl").delimiter("/").send().await.unwrap();
    let prefixes: Vec<_> = top.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["a/", "c/"]);
    assert_eq!(top.uploads().iter().filter_map(|u| u.key()).collect::<Vec<_>>(), ["b", "b"]);
    let under_c = s3.list_multipart_uploads().bucket("mpl").prefix("c/").delimiter("/").send().await.unwrap();
    assert_eq!(under_c.common_prefixes().iter().filter_map(|p| p.prefix()).collect::<Vec<_>>(), ["c/x/"]);
    assert_eq!(under_c.uploads().iter().filter_map(|u| u.key()).collect::<Vec<_>>(), ["c/z"]);
    // pages of two, resumed by key and upload id markers
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket("mpl")
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(page.uploads().iter().map(|u| (u.key().unwrap().to_string(), u.upload_id().unwrap().to_string())));
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        id_marker = page.next_upload_id_marker().map(str::to_string);
    }
    assert_eq!(seen, expected);
}
