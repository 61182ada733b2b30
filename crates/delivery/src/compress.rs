//! Output compression for S3 delivery: Firehose's `CompressionFormat` (`UNCOMPRESSED`, `GZIP`,
//! `ZIP`, `Snappy`, `HADOOP_SNAPPY`) as a streaming writer over the object being uploaded.
//!
//! * `GZIP`: one gzip member.
//! * `ZIP`: an archive holding one deflated entry, named by the caller. Written with a
//!   seekable sink, so sizes go into the local header and no data descriptor is needed.
//! * `Snappy`: the Snappy framing format (`snap::write::FrameEncoder`).
//! * `HADOOP_SNAPPY`: Hadoop's `BlockCompressorStream` layout, what Hadoop's and Spark's
//!   `SnappyCodec` read: per block, the uncompressed length (u32 big-endian), the compressed
//!   length (u32 big-endian) and the raw Snappy bytes. See [`HADOOP_SNAPPY_BLOCK_SIZE`].
//!
//! Memory stays bounded by the formats' own buffers (gzip's and deflate's windows, Snappy's
//! 64 KiB frames, one Hadoop block); nothing holds the whole object.

use std::io::{self, Write};

use flate2::write::GzEncoder;
use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

/// Firehose's `CompressionFormat` for S3 destinations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Compression {
    #[default]
    Uncompressed,
    Gzip,
    Zip,
    Snappy,
    HadoopSnappy,
}

impl Compression {
    /// All formats, in the API's enum order.
    pub const ALL: [Compression; 5] = [
        Compression::Uncompressed,
        Compression::Gzip,
        Compression::Zip,
        Compression::Snappy,
        Compression::HadoopSnappy,
    ];

    /// Parses the API's enum value, which is case-sensitive: `UNCOMPRESSED`, `GZIP`, `ZIP`,
    /// `Snappy`, `HADOOP_SNAPPY`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The API's enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Uncompressed => "UNCOMPRESSED",
            Compression::Gzip => "GZIP",
            Compression::Zip => "ZIP",
            Compression::Snappy => "Snappy",
            Compression::HadoopSnappy => "HADOOP_SNAPPY",
        }
    }

    /// The file extension Firehose appends to object keys: `.gz`, `.zip`, `.snappy` for both
    /// Snappy variants (what the service delivers; its object-name page lists `.hsnappy` for
    /// Hadoop-Snappy), nothing when uncompressed. A configured `FileExtension` replaces it.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Uncompressed => "",
            Compression::Gzip => ".gz",
            Compression::Zip => ".zip",
            Compression::Snappy | Compression::HadoopSnappy => ".snappy",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Uncompressed bytes per `HADOOP_SNAPPY` block. Hadoop's `SnappyCodec` uses a 256 KiB buffer
/// and feeds each block at most `buffer - (buffer / 6 + 32)` bytes, so that the compressed
/// block (Snappy's worst case is `32 + n + n / 6`) still fits the 256 KiB buffer its
/// decompressor reads into; blocks of this size are therefore readable by Hadoop.
pub const HADOOP_SNAPPY_BLOCK_SIZE: usize = 256 * 1024 - (256 * 1024 / 6 + 32);

/// A streaming compressor: bytes written go to `out` compressed with the chosen format.
pub struct Compressor<W: Write + Send> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    Plain(W),
    Gzip(Box<GzEncoder<W>>),
    Zip(Box<ZipWriter<StreamWriter<W>>>),
    Snappy(Box<snap::write::FrameEncoder<W>>),
    HadoopSnappy(Box<HadoopSnappyWriter<W>>),
}

impl<W: Write + Send> Compressor<W> {
    /// Starts a compressed stream over `out`. `zip_entry_name` names the single entry of a
    /// `ZIP` archive and is ignored by the other formats.
    pub fn new(c: Compression, out: W, zip_entry_name: &str) -> io::Result<Self> {
        let inner = match c {
            Compression::Uncompressed => Inner::Plain(out),
            Compression::Gzip => Inner::Gzip(Box::new(GzEncoder::new(out, flate2::Compression::default()))),
            Compression::Zip => {
                let mut zip = ZipWriter::new_stream(out);
                let options = SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .last_modified_time(zip_now())
                    .unix_permissions(0o644);
                zip.start_file(zip_entry_name, options)?;
                Inner::Zip(Box::new(zip))
            }
            Compression::Snappy => Inner::Snappy(Box::new(snap::write::FrameEncoder::new(out))),
            Compression::HadoopSnappy => Inner::HadoopSnappy(Box::new(HadoopSnappyWriter::new(out))),
        };
        Ok(Self { inner })
    }

    /// Compresses and writes all of `data`.
    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(w) => w.write_all(data),
            Inner::Gzip(w) => w.write_all(data),
            Inner::Zip(w) => w.write_all(data),
            Inner::Snappy(w) => w.write_all(data),
            Inner::HadoopSnappy(w) => w.write_data(data),
        }
    }

    /// Ends the stream (trailers, central directory, last block), flushes, and returns the
    /// sink, positioned at the end of the compressed data.
    pub fn finish(self) -> io::Result<W> {
        let mut out = match self.inner {
            Inner::Plain(w) => w,
            Inner::Gzip(w) => w.finish()?,
            Inner::Zip(w) => w.finish()?.into_inner(),
            Inner::Snappy(w) => w.into_inner().map_err(|e| e.into_error())?,
            Inner::HadoopSnappy(w) => w.finish()?,
        };
        out.flush()?;
        Ok(out)
    }
}

/// `Compressor` is also an `io::Write`, for use with `io::copy` and writers that take one.
/// `flush` pushes out what the format allows without ending it (a Hadoop-Snappy block in
/// progress stays buffered so blocks keep their full size).
impl<W: Write + Send> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Compressor::write_all(self, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(w) => w.flush(),
            Inner::Gzip(w) => w.flush(),
            Inner::Zip(w) => w.flush(),
            Inner::Snappy(w) => w.flush(),
            Inner::HadoopSnappy(w) => w.out.flush(),
        }
    }
}

/// The current UTC time as a ZIP (DOS) timestamp, 1980-01-01 if out of its range.
fn zip_now() -> zip::DateTime {
    let now = time::OffsetDateTime::now_utc();
    u16::try_from(now.year())
        .ok()
        .and_then(|year| {
            zip::DateTime::from_date_and_time(
                year,
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute(),
                now.second(),
            )
            .ok()
        })
        .unwrap_or_default()
}

/// Hadoop block framing over raw Snappy: buffers one block of input at a time.
struct HadoopSnappyWriter<W: Write> {
    out: W,
    pending: Vec<u8>,
    scratch: Vec<u8>,
    encoder: snap::raw::Encoder,
}

impl<W: Write> HadoopSnappyWriter<W> {
    fn new(out: W) -> Self {
        Self { out, pending: Vec::new(), scratch: Vec::new(), encoder: snap::raw::Encoder::new() }
    }

    fn write_data(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= HADOOP_SNAPPY_BLOCK_SIZE {
                // Whole blocks straight from the caller's buffer.
                let (block, rest) = data.split_at(HADOOP_SNAPPY_BLOCK_SIZE);
                self.emit(block)?;
                data = rest;
                continue;
            }
            if self.pending.capacity() == 0 {
                self.pending.reserve_exact(HADOOP_SNAPPY_BLOCK_SIZE);
            }
            let n = (HADOOP_SNAPPY_BLOCK_SIZE - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.pending.len() == HADOOP_SNAPPY_BLOCK_SIZE {
                self.emit_pending()?;
            }
        }
        Ok(())
    }

    fn emit_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let block = std::mem::take(&mut self.pending);
        let result = self.emit(&block);
        self.pending = block;
        self.pending.clear();
        result
    }

    /// Writes one block: raw length, compressed length, compressed bytes.
    fn emit(&mut self, block: &[u8]) -> io::Result<()> {
        let max = snap::raw::max_compress_len(block.len());
        if self.scratch.len() < max {
            self.scratch.resize(max, 0);
        }
        let n = self.encoder.compress(block, &mut self.scratch)?;
        let raw_len = u32::try_from(block.len()).map_err(io::Error::other)?;
        let compressed_len = u32::try_from(n).map_err(io::Error::other)?;
        self.out.write_all(&raw_len.to_be_bytes())?;
        self.out.write_all(&compressed_len.to_be_bytes())?;
        self.out.write_all(&self.scratch[..n])
    }

    fn finish(mut self) -> io::Result<W> {
        self.emit_pending()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Seek as _;
    use std::io::{Cursor, Read};

    /// Deterministic test data: compressible text interleaved with pseudo-random bytes.
    fn sample(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut i = 0u64;
        while out.len() < len {
            if (i / 64).is_multiple_of(3) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                out.extend_from_slice(&x.to_le_bytes());
            } else {
                out.extend_from_slice(format!("{{\"id\":{i},\"msg\":\"hello\"}}\n").as_bytes());
            }
            i += 1;
        }
        out.truncate(len);
        out
    }

    fn compress(c: Compression, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut comp = Compressor::new(c, Cursor::new(Vec::new()), "records").unwrap();
        for part in data.chunks(chunk.max(1)) {
            comp.write_all(part).unwrap();
        }
        comp.finish().unwrap().into_inner()
    }

    fn decode_hadoop(mut buf: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut dec = snap::raw::Decoder::new();
        let take_u32 = |buf: &mut &[u8]| -> usize {
            let (head, rest) = buf.split_at(4);
            *buf = rest;
            u32::from_be_bytes(head.try_into().unwrap()) as usize
        };
        while !buf.is_empty() {
            let raw_len = take_u32(&mut buf);
            assert!(raw_len <= HADOOP_SNAPPY_BLOCK_SIZE);
            let mut got = 0;
            while got < raw_len {
                let comp_len = take_u32(&mut buf);
                assert!(comp_len <= 256 * 1024, "chunk fits Hadoop's buffer");
                let (chunk, rest) = buf.split_at(comp_len);
                buf = rest;
                let plain = dec.decompress_vec(chunk).unwrap();
                got += plain.len();
                out.extend_from_slice(&plain);
            }
            assert_eq!(got, raw_len);
        }
        out
    }

    fn decode(c: Compression, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match c {
            Compression::Uncompressed => out.extend_from_slice(data),
            Compression::Gzip => {
                flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
            }
            Compression::Zip => {
                let mut archive = zip::ZipArchive::new(Cursor::new(data)).unwrap();
                assert_eq!(archive.len(), 1);
                let mut entry = archive.by_index(0).unwrap();
                assert_eq!(entry.name().unwrap(), "records");
                assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
                entry.read_to_end(&mut out).unwrap();
            }
            Compression::Snappy => {
                snap::read::FrameDecoder::new(data).read_to_end(&mut out).unwrap();
            }
            Compression::HadoopSnappy => out = decode_hadoop(data),
        }
        out
    }

    #[test]
    fn names_and_extensions() {
        for (name, c, ext) in [
            ("UNCOMPRESSED", Compression::Uncompressed, ""),
            ("GZIP", Compression::Gzip, ".gz"),
            ("ZIP", Compression::Zip, ".zip"),
            ("Snappy", Compression::Snappy, ".snappy"),
            ("HADOOP_SNAPPY", Compression::HadoopSnappy, ".snappy"),
        ] {
            assert_eq!(Compression::parse(name), Some(c));
            assert_eq!(c.as_str(), name);
            assert_eq!(c.to_string(), name);
            assert_eq!(c.extension(), ext);
        }
        for bad in ["SNAPPY", "gzip", "Zip", "hadoop_snappy", ""] {
            assert_eq!(Compression::parse(bad), None, "{bad}");
        }
        assert_eq!(Compression::default(), Compression::Uncompressed);
    }

    #[test]
    fn every_format_round_trips() {
        let data = sample(100_000);
        for c in Compression::ALL {
            for (len, chunk) in [(5000, 1), (data.len(), 7), (data.len(), 4096), (data.len(), data.len())] {
                let packed = compress(c, &data[..len], chunk);
                assert_eq!(decode(c, &packed), &data[..len], "{c} chunk {chunk}");
            }
        }
    }

    #[test]
    fn large_input_spans_several_blocks() {
        let data = sample(3 * 1024 * 1024 + 12_345);
        for c in Compression::ALL {
            // Uneven writes so block boundaries fall inside writes.
            let packed = compress(c, &data, 100_003);
            assert_eq!(decode(c, &packed), data, "{c}");
            if c != Compression::Uncompressed {
                assert!(packed.len() < data.len(), "{c} compresses");
            }
        }
        // Hadoop blocks: full-size blocks, then the remainder.
        let packed = compress(Compression::HadoopSnappy, &data, 1 << 20);
        let mut rest = &packed[..];
        let mut sizes = Vec::new();
        while !rest.is_empty() {
            let raw = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let comp = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
            sizes.push(raw);
            rest = &rest[8 + comp..];
        }
        let full = data.len() / HADOOP_SNAPPY_BLOCK_SIZE;
        assert_eq!(sizes.len(), full + 1);
        assert!(sizes[..full].iter().all(|&s| s == HADOOP_SNAPPY_BLOCK_SIZE));
        assert_eq!(sizes[full], data.len() % HADOOP_SNAPPY_BLOCK_SIZE);
        // The same layout whether written in one call or byte-sized pieces.
        let small = sample(HADOOP_SNAPPY_BLOCK_SIZE * 2 + 10);
        assert_eq!(
            compress(Compression::HadoopSnappy, &small, small.len()),
            compress(Compression::HadoopSnappy, &small, 1000)
        );
    }

    #[test]
    fn incompressible_hadoop_blocks_fit_hadoop_buffer() {
        let mut x: u64 = 1;
        let data: Vec<u8> = (0..HADOOP_SNAPPY_BLOCK_SIZE * 2)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        let packed = compress(Compression::HadoopSnappy, &data, data.len());
        assert_eq!(decode_hadoop(&packed), data);
    }

    #[test]
    fn empty_input() {
        for c in Compression::ALL {
            let packed = compress(c, &[], 1);
            assert_eq!(decode(c, &packed), Vec::<u8>::new(), "{c}");
        }
        assert!(compress(Compression::Uncompressed, &[], 1).is_empty());
        assert!(compress(Compression::HadoopSnappy, &[], 1).is_empty());
    }

    #[test]
    fn io_write_and_file_sink() {
        let data = sample(300_000);
        for c in Compression::ALL {
            let file = tempfile::tempfile().unwrap();
            let mut comp = Compressor::new(c, file, "records").unwrap();
            io::copy(&mut &data[..], &mut comp).unwrap();
            Write::flush(&mut comp).unwrap();
            let mut file = comp.finish().unwrap();
            file.rewind().unwrap();
            let mut packed = Vec::new();
            file.read_to_end(&mut packed).unwrap();
            assert_eq!(decode(c, &packed), data, "{c}");
        }
    }
}
