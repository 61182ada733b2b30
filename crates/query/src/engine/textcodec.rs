//! Compressed text files (CSV, JSON) decoded as they stream out of the object store.
//!
//! Athena, as Hive does, picks a text file's codec by its extension: `.gz`, `.bz2`, `.zst`,
//! `.snappy` and `.deflate` files are decompressed, others read as they are. A table whose
//! `compressionType` says so (crawlers set it) decodes its files without an extension too.
//! DataFusion decodes only gzip, bzip2, xz and zstd, for a whole table at once, so tarn decodes
//! in the object store instead ([`crate::engine::store::BucketStore`] for `tarn-text://` URLs): the
//! decompression runs on the blocking pool and hands over chunks through a bounded channel, so
//! memory stays at a few chunks whatever the file's size. A compressed file cannot be read
//! from the middle: its scan is never split (see `tables.rs`).

use std::io::{self, Read};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tokio_util::io::{StreamReader, SyncIoBridge};

/// How a text file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Bzip2,
    Zstd,
    /// Hadoop's block-framed snappy, or the snappy framing format (told apart by its magic).
    Snappy,
    /// Hadoop's DefaultCodec: a zlib stream.
    Deflate,
}

impl Codec {
    /// The codec a key's extension names, as Hive's codec factory picks it; `Err` for codecs
    /// tarn cannot decode (LZ4, LZO).
    pub fn of_key(key: &str) -> Result<Option<Self>, String> {
        let name = key.rsplit('/').next().unwrap_or(key);
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        Ok(match ext.as_deref() {
            Some("gz" | "gzip") => Some(Self::Gzip),
            Some("bz2") => Some(Self::Bzip2),
            Some("zst" | "zstd") => Some(Self::Zstd),
            Some("snappy") => Some(Self::Snappy),
            Some("deflate") => Some(Self::Deflate),
            Some(e @ ("lz4" | "lzo")) => return Err(format!("{} compressed text is not supported", e.to_uppercase())),
            _ => None,
        })
    }

    /// The codec a table's `compressionType` names (None for `none` or anything unknown).
    #[must_use]
    pub fn of_property(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "gz" => Some(Self::Gzip),
            "bz2" => Some(Self::Bzip2),
            "zlib" => Some(Self::Deflate),
            name => Self::of_name(name),
        }
    }

    /// The name in `tarn-text-<name>://` URLs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Bzip2 => "bzip2",
            Self::Zstd => "zstd",
            Self::Snappy => "snappy",
            Self::Deflate => "deflate",
        }
    }

    #[must_use]
    pub fn of_name(name: &str) -> Option<Self> {
        [Self::Gzip, Self::Bzip2, Self::Zstd, Self::Snappy, Self::Deflate].into_iter().find(|c| c.name() == name)
    }

    fn reader<'a>(self, mut input: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Self::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Self::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
            Self::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
            Self::Deflate => Box::new(MultiZlib::new(io::BufReader::new(input))),
            Self::Snappy => {
                let mut head = [0u8; SNAPPY_FRAMED_MAGIC.len()];
                let n = read_up_to(&mut input, &mut head)?;
                let input = io::Cursor::new(head[..n].to_vec()).chain(input);
                if head[..n] == SNAPPY_FRAMED_MAGIC {
                    Box::new(snap::read::FrameDecoder::new(input))
                } else {
                    Box::new(HadoopSnappy::new(input))
                }
            }
        })
    }
}

/// Concatenated zlib streams, as Hadoop's DefaultCodec reads them (each write session of a
/// file appends a stream).
struct MultiZlib<R: io::BufRead> {
    decoder: Option<flate2::bufread::ZlibDecoder<R>>,
}

impl<R: io::BufRead> MultiZlib<R> {
    fn new(input: R) -> Self {
        Self { decoder: Some(flate2::bufread::ZlibDecoder::new(input)) }
    }
}

impl<R: io::BufRead> Read for MultiZlib<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(decoder) = self.decoder.as_mut() else { return Ok(0) };
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // one stream ended: another may follow
            let mut input = self.decoder.take().expect("checked above").into_inner();
            if !input.fill_buf()?.is_empty() {
                self.decoder = Some(flate2::bufread::ZlibDecoder::new(input));
            }
        }
    }
}

/// The stream identifier that opens the snappy framing format.
const SNAPPY_FRAMED_MAGIC: [u8; 10] = [0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y'];

/// Decoded bytes handed over at a time, and how many such chunks may wait.
const CHUNK: usize = 256 * 1024;
const CHUNKS_AHEAD: usize = 4;

/// `input` (a compressed object's bytes) decoded by `codec`; errors name `what` (the object).
pub fn decode(
    codec: Codec,
    input: BoxStream<'static, object_store::Result<Bytes>>,
    what: String,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHUNKS_AHEAD);
    let reader = SyncIoBridge::new(StreamReader::new(input.map_err(io::Error::other)));
    let task = tokio::task::spawn_blocking(move || {
        let mut decoded = match codec.reader(reader) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        loop {
            let mut buf = vec![0u8; CHUNK];
            match read_up_to(&mut decoded, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return; // the scan stopped reading
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    received(rx, task)
        .map_err(move |e| object_store::Error::Generic {
            store: "tarn",
            source: format!("decompressing {what}: {e}").into(),
        })
        .boxed()
}

/// What the decoding task sends, then an error if it panicked (its channel closes either way:
/// a panic must not read as the end of the file).
fn received(
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    task: tokio::task::JoinHandle<()>,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send {
    futures::stream::unfold((rx, Some(task)), |(mut rx, task)| async move {
        if let Some(item) = rx.recv().await {
            return Some((item, (rx, task)));
        }
        match task?.await {
            Ok(()) => None,
            Err(e) => Some((Err(io::Error::other(format!("the decoder failed: {e}"))), (rx, None))),
        }
    })
}

/// Fills `buf` as far as the input goes; the count read (short only at the end).
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Hadoop's SnappyCodec stream: blocks of (uncompressed length, then chunks of (compressed
/// length, raw snappy bytes) until that length is produced), lengths 32-bit big-endian.
struct HadoopSnappy<R> {
    input: R,
    /// What the block being read still has to produce.
    block_left: usize,
    out: Vec<u8>,
    at: usize,
    compressed: Vec<u8>,
    decoder: snap::raw::Decoder,
}

/// The largest compressed chunk believed (Hadoop's buffers are 256 KiB by default).
const HADOOP_SNAPPY_MAX: usize = 64 << 20;

impl<R: Read> HadoopSnappy<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            block_left: 0,
            out: Vec::new(),
            at: 0,
            compressed: Vec::new(),
            decoder: snap::raw::Decoder::new(),
        }
    }

    /// A big-endian length, or None at a clean end of the stream.
    fn length(&mut self, at_end_ok: bool, max: usize) -> io::Result<Option<usize>> {
        let mut b = [0u8; 4];
        let n = read_up_to(&mut self.input, &mut b)?;
        if n == 0 && at_end_ok {
            return Ok(None);
        }
        if n < 4 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "snappy stream ends inside a length"));
        }
        let len = u32::from_be_bytes(b) as usize;
        if len > max {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("snappy chunk of {len} bytes")));
        }
        Ok(Some(len))
    }

    /// Decodes the next chunk into `out`; false at the end of the stream.
    fn next_chunk(&mut self) -> io::Result<bool> {
        while self.block_left == 0 {
            // a block's length is what it decodes to: any size, produced chunk by chunk
            match self.length(true, usize::MAX)? {
                None => return Ok(false),
                Some(len) => self.block_left = len,
            }
        }
        let Some(len) = self.length(false, HADOOP_SNAPPY_MAX)? else { return Ok(false) };
        self.compressed.resize(len, 0);
        if read_up_to(&mut self.input, &mut self.compressed)? < len {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "snappy stream ends inside a chunk"));
        }
        self.out =
            self.decoder.decompress_vec(&self.compressed).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.at = 0;
        if self.out.len() > self.block_left {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "snappy chunk longer than its block"));
        }
        self.block_left -= self.out.len();
        Ok(true)
    }
}

impl<R: Read> Read for HadoopSnappy<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The most of one CloudTrail log file (decoded) read into memory: CloudTrail's files hold a few
/// minutes of events (tarn's at most 1,000 records).
const CLOUDTRAIL_FILE_MAX: usize = 256 << 20;

/// A CloudTrail log file (`{"Records": [...]}`) as JSON rows, one record a line, as Athena's
/// `CloudTrailInputFormat` and its SerDe read them: keys lower-cased (column and struct field
/// names match whatever their case), `requestParameters`, `responseElements`,
/// `additionalEventData` and `serviceEventDetails` kept as their JSON text (STRING columns), and
/// `readOnly` as text, as AWS's documented table declares it. The file is read whole (bounded).
pub fn cloudtrail_rows(
    input: BoxStream<'static, object_store::Result<Bytes>>,
    what: String,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    futures::stream::once(async move {
        let bad = |m: String| object_store::Error::Generic { store: "tarn", source: format!("{what}: {m}").into() };
        let mut all = Vec::new();
        let mut input = input;
        while let Some(chunk) = input.next().await {
            let chunk = chunk?;
            if all.len() + chunk.len() > CLOUDTRAIL_FILE_MAX {
                return Err(bad(format!("a CloudTrail file larger than {CLOUDTRAIL_FILE_MAX} bytes")));
            }
            all.extend_from_slice(&chunk);
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&all).map_err(|e| bad(format!("not a CloudTrail log file: {e}")))?;
        let records = doc
            .get("Records")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| bad("not a CloudTrail log file: no Records array".into()))?;
        let mut out = Vec::with_capacity(all.len());
        for record in records {
            let row = match record {
                serde_json::Value::Object(m) => serde_json::Value::Object(
                    m.iter()
                        .map(|(k, v)| {
                            let key = k.to_ascii_lowercase();
                            let value = match key.as_str() {
                                "requestparameters"
                                | "responseelements"
                                | "additionaleventdata"
                                | "serviceeventdetails"
                                    if !v.is_null() =>
                                {
                                    serde_json::Value::String(v.to_string())
                                }
                                "readonly" if v.is_boolean() => serde_json::Value::String(v.to_string()),
                                _ => lower_keys(v),
                            };
                            (key, value)
                        })
                        .collect(),
                ),
                other => lower_keys(other),
            };
            serde_json::to_writer(&mut out, &row).map_err(|e| bad(e.to_string()))?;
            out.push(b'\n');
        }
        Ok(Bytes::from(out))
    })
    .boxed()
}

fn lower_keys(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(lower_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// `plain` compressed by `codec` (snappy in the framing format; see [`hadoop_snappy`]).
    pub(crate) fn compress(codec: Codec, plain: &[u8]) -> Vec<u8> {
        match codec {
            Codec::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(plain).unwrap();
                e.finish().unwrap()
            }
            Codec::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(plain).unwrap();
                e.finish().unwrap()
            }
            Codec::Zstd => zstd::stream::encode_all(plain, 1).unwrap(),
            Codec::Deflate => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(plain).unwrap();
                e.finish().unwrap()
            }
            Codec::Snappy => {
                let mut e = snap::write::FrameEncoder::new(Vec::new());
                e.write_all(plain).unwrap();
                e.into_inner().unwrap()
            }
        }
    }

    /// `plain` in Hadoop's snappy block format, in blocks of `block` bytes.
    pub(crate) fn hadoop_snappy(plain: &[u8], block: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for b in plain.chunks(block) {
            let c = snap::raw::Encoder::new().compress_vec(b).unwrap();
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
            out.extend_from_slice(&c);
        }
        out
    }

    async fn decoded(codec: Codec, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        // hand the input over in small pieces, as a store would
        let pieces: Vec<object_store::Result<Bytes>> =
            bytes.chunks(1000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let out: Vec<Bytes> = decode(codec, futures::stream::iter(pieces).boxed(), "s3://b/k".into())
            .try_collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok(out.concat())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_codec_decodes_what_its_encoder_wrote() {
        let plain: Vec<u8> = (0..600_000u32).flat_map(|i| format!("{i},{}\n", i % 7).into_bytes()).collect();
        // two gzip members, as concatenated gzip files are, and two zlib streams, as a file
        // appended to twice is
        let gz = [compress(Codec::Gzip, &plain[..1000]), compress(Codec::Gzip, &plain[1000..])].concat();
        let zlib = [compress(Codec::Deflate, &plain[..5000]), compress(Codec::Deflate, &plain[5000..])].concat();
        let cases = [
            (Codec::Gzip, gz),
            (Codec::Bzip2, compress(Codec::Bzip2, &plain)),
            (Codec::Zstd, compress(Codec::Zstd, &plain)),
            (Codec::Deflate, zlib),
            (Codec::Snappy, compress(Codec::Snappy, &plain)),
            (Codec::Snappy, hadoop_snappy(&plain, 256 * 1024)),
        ];
        for (codec, bytes) in cases {
            assert_eq!(decoded(codec, bytes).await.unwrap(), plain, "{codec:?}");
        }
        // an empty Hadoop-snappy file is an empty text file, and so is an empty block
        assert_eq!(decoded(Codec::Snappy, Vec::new()).await.unwrap(), b"");
        assert_eq!(decoded(Codec::Snappy, vec![0, 0, 0, 0]).await.unwrap(), b"");
        // one block of 1 MiB (a single large write) in chunks of 64 KiB
        let mut one_block = (plain[..1 << 20].len() as u32).to_be_bytes().to_vec();
        for chunk in plain[..1 << 20].chunks(64 * 1024) {
            let c = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
            one_block.extend_from_slice(&(c.len() as u32).to_be_bytes());
            one_block.extend_from_slice(&c);
        }
        assert_eq!(decoded(Codec::Snappy, one_block).await.unwrap(), &plain[..1 << 20]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_corrupt_file_fails_naming_the_object() {
        let mut bad = hadoop_snappy(b"a,b\nc,d\n", 1024);
        bad.truncate(bad.len() - 3);
        let err = decoded(Codec::Snappy, bad).await.unwrap_err();
        assert!(err.contains("decompressing s3://b/k"), "{err}");
        let err = decoded(Codec::Gzip, b"not gzip at all".to_vec()).await.unwrap_err();
        assert!(err.contains("decompressing s3://b/k"), "{err}");
        // cut short: no codec takes a truncated file for a shorter one
        let plain = b"a,b\nc,d\n".repeat(1000);
        for codec in [Codec::Gzip, Codec::Bzip2, Codec::Zstd] {
            let mut bytes = compress(codec, &plain);
            bytes.truncate(bytes.len() - 5);
            let err = decoded(codec, bytes).await.unwrap_err();
            assert!(err.contains("decompressing s3://b/k"), "{codec:?}: {err}");
        }
        // a chunk claiming more than its block holds
        let mut lying = 4u32.to_be_bytes().to_vec();
        let c = snap::raw::Encoder::new().compress_vec(b"0123456789").unwrap();
        lying.extend_from_slice(&(c.len() as u32).to_be_bytes());
        lying.extend_from_slice(&c);
        let err = decoded(Codec::Snappy, lying).await.unwrap_err();
        assert!(err.contains("longer than its block"), "{err}");
    }

    #[test]
    fn codecs_by_extension_and_property() {
        assert_eq!(Codec::of_key("a/b/part-0.csv.gz"), Ok(Some(Codec::Gzip)));
        assert_eq!(Codec::of_key("x.SNAPPY"), Ok(Some(Codec::Snappy)));
        assert_eq!(Codec::of_key("x.deflate"), Ok(Some(Codec::Deflate)));
        assert_eq!(Codec::of_key("dir.v2/x.csv"), Ok(None));
        assert_eq!(Codec::of_key("out.gz/part-0"), Ok(None));
        assert_eq!(Codec::of_key("noext"), Ok(None));
        assert!(Codec::of_key("x.lz4").unwrap_err().contains("LZ4"));
        assert_eq!(Codec::of_property("GZIP"), Some(Codec::Gzip));
        assert_eq!(Codec::of_property("none"), None);
        for c in [Codec::Gzip, Codec::Bzip2, Codec::Zstd, Codec::Snappy, Codec::Deflate] {
            assert_eq!(Codec::of_name(c.name()), Some(c));
        }
    }
}
