//! Images made for the tests: small photos of each format, a JPEG carrying an
//! EXIF segment with a location (spliced in byte by byte), and a real PNG
//! decompression bomb (a few megabytes that inflate to hundreds).

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage, RgbaImage};

/// The start of a HEIC file (an `ftyp` box with the `heic` brand).
pub const HEIC_HEADER: &[u8] = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0";
/// Text in the fixture's EXIF (its image description) that must not survive.
pub const GPS_MARKER: &[u8] = b"TAKEN-AT-48.8584N-2.2945E";
/// The fixture's GPS latitude, 48° 51' 30.30", as EXIF rationals (big-endian).
pub const GPS_LATITUDE: [u8; 24] =
    [0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 11, 214, 0, 0, 0, 100];
const GPS_LONGITUDE: [u8; 24] = [0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 17, 0, 0, 0, 1, 0, 0, 15, 50, 0, 0, 0, 100];

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn pixels(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128]))
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(pixels(w, h).as_raw(), w, h, ExtendedColorType::Rgb8).unwrap();
    out
}

pub fn transparent_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let clear = RgbaImage::new(w, h);
    PngEncoder::new(&mut out).write_image(clear.as_raw(), w, h, ExtendedColorType::Rgba8).unwrap();
    out
}

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90).encode_image(&pixels(w, h)).unwrap();
    out
}

pub fn webp(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .write_image(pixels(w, h).as_raw(), w, h, ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A real HEIC (HEVC-coded) photo, made with libheif's encoder.
pub fn heic(w: u32, h: u32) -> Vec<u8> {
    use libheif_rs::{
        Channel, ColorSpace, CompressionFormat, EncoderQuality, HeifContext, Image, LibHeif, RgbChroma,
    };
    let lib = LibHeif::new();
    let mut image = Image::new(w, h, ColorSpace::Rgb(RgbChroma::Rgb)).unwrap();
    image.create_plane(Channel::Interleaved, w, h, 8).unwrap();
    let source = pixels(w, h);
    {
        let planes = image.planes_mut();
        let plane = planes.interleaved.unwrap();
        let row = w as usize * 3;
        for y in 0..h as usize {
            plane.data[y * plane.stride..y * plane.stride + row]
                .copy_from_slice(&source.as_raw()[y * row..(y + 1) * row]);
        }
    }
    let mut context = HeifContext::new().unwrap();
    let mut encoder = lib.encoder_for_format(CompressionFormat::Hevc).unwrap();
    encoder.set_quality(EncoderQuality::Lossy(80)).unwrap();
    context.encode_image(&image, &mut encoder, None).unwrap();
    context.write_to_bytes().unwrap()
}

/// An IFD entry (big-endian TIFF): tag, type, count, value or offset.
fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
    out.extend(tag.to_be_bytes());
    out.extend(kind.to_be_bytes());
    out.extend(count.to_be_bytes());
    out.extend(value);
}

/// The EXIF APP1 segment of a phone photo, reduced: orientation 6 (turn 90°
/// clockwise), an image description, and a GPS IFD with latitude and longitude.
fn exif_segment() -> Vec<u8> {
    const ASCII: u16 = 2;
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    let mut description = GPS_MARKER.to_vec();
    description.push(0);
    if description.len() % 2 == 1 {
        description.push(0);
    }
    // Offsets from the start of the TIFF header.
    let ifd0 = 8u32;
    let ifd0_len = 2 + 3 * 12 + 4;
    let desc_at = ifd0 + ifd0_len;
    let gps_at = desc_at + description.len() as u32;
    let gps_len = 2 + 4 * 12 + 4;
    let lat_at = gps_at + gps_len;
    let lon_at = lat_at + 24;

    let mut tiff = b"MM\0\x2a".to_vec();
    tiff.extend(ifd0.to_be_bytes());
    tiff.extend(3u16.to_be_bytes());
    entry(&mut tiff, 0x010E, ASCII, GPS_MARKER.len() as u32 + 1, desc_at.to_be_bytes());
    entry(&mut tiff, 0x0112, SHORT, 1, [0, 6, 0, 0]);
    entry(&mut tiff, 0x8825, LONG, 1, gps_at.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(&description);
    tiff.extend(4u16.to_be_bytes());
    entry(&mut tiff, 0x0001, ASCII, 2, *b"N\0\0\0");
    entry(&mut tiff, 0x0002, RATIONAL, 3, lat_at.to_be_bytes());
    entry(&mut tiff, 0x0003, ASCII, 2, *b"E\0\0\0");
    entry(&mut tiff, 0x0004, RATIONAL, 3, lon_at.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(GPS_LATITUDE);
    tiff.extend(GPS_LONGITUDE);

    let mut segment = vec![0xFF, 0xE1];
    segment.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    segment.extend(b"Exif\0\0");
    segment.extend(tiff);
    segment
}

/// A JPEG (`w` × `h` as stored, shown turned to `h` × `w`) with the EXIF
/// segment above spliced in after its JFIF header.
pub fn jpeg_with_gps(w: u32, h: u32) -> Vec<u8> {
    let plain = jpeg(w, h);
    assert_eq!(&plain[0..4], &[0xFF, 0xD8, 0xFF, 0xE0], "SOI then APP0");
    let app0_end = 4 + u16::from_be_bytes([plain[4], plain[5]]) as usize;
    let mut out = plain[..app0_end].to_vec();
    out.extend(exif_segment());
    out.extend(&plain[app0_end..]);
    out
}

fn crc32(parts: &[&[u8]]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| (0..8).fold(n, |c, _| if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 }))
        .collect();
    let mut crc = 0xFFFF_FFFFu32;
    for part in parts {
        for &b in *part {
            crc = table[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
        }
    }
    crc ^ 0xFFFF_FFFF
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(kind);
    out.extend(data);
    out.extend(crc32(&[kind, data]).to_be_bytes());
}

fn ihdr(w: u32, h: u32, color: u8, depth: u8) -> Vec<u8> {
    let mut data = w.to_be_bytes().to_vec();
    data.extend(h.to_be_bytes());
    data.extend([depth, color, 0, 0, 0]);
    data
}

/// Bits into bytes, least significant first (as deflate packs them).
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.acc |= (((code >> i) & 1) as u64) << self.n;
            self.n += 1;
        }
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
}

/// A zlib stream of `n` zero bytes, made of back-references (about 13 bits per
/// 258 bytes): deflate's best ratio, as a decompression bomb uses it.
fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut bits = Bits { out: vec![0x78, 0x01], acc: 0, n: 0 };
    bits.code(0b1, 1); // the last block
    bits.code(0b10, 2); // fixed Huffman codes (BTYPE 01, written LSB first: 1 then 0)
    let literal_zero = |bits: &mut Bits| bits.code(0b0011_0000, 8);
    literal_zero(&mut bits);
    let mut left = n - 1;
    while left >= 258 {
        bits.code(0b1100_0101, 8); // length 258 (code 285)
        bits.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        literal_zero(&mut bits);
    }
    bits.code(0, 7); // end of block
    if bits.n > 0 {
        bits.out.push(bits.acc as u8);
    }
    let (a, b) = (1u32, (n % 65521) as u32);
    bits.out.extend(((b << 16) | a).to_be_bytes());
    bits.out
}

/// A grayscale PNG of `w` × `h` zero pixels whose data really inflates to
/// `(w + 1) × h` bytes.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr(w, h, 0, 8));
    chunk(&mut out, b"IDAT", &zlib_zeros((w as u64 + 1) * h as u64));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A PNG header announcing `w` × `h` pixels of the given color type and depth,
/// followed by almost no data.
pub fn png_header_only(w: u32, h: u32, color: u8, depth: u8) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr(w, h, color, depth));
    chunk(&mut out, b"IDAT", &zlib_zeros(1000));
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn the_bomb_is_a_real_png_that_inflates() {
    // A small bomb decodes (so the big one is the same thing, only bigger).
    let small = png_bomb(300, 200);
    let img = image::load_from_memory(&small).expect("a valid PNG");
    assert_eq!((img.width(), img.height()), (300, 200));
    assert!(img.to_luma8().pixels().all(|p| p.0[0] == 0));
}
