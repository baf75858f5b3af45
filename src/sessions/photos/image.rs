//! The pure part of a photo upload: recognise the format from the bytes
//! themselves, decode within limits (so a decompression bomb is refused before
//! anything large is allocated), turn it upright, and re-encode it from its
//! pixels as a JPEG and a thumbnail. Nothing of the original file but its
//! pixels survives: no EXIF (location), no ICC, no comments.
//!
//! HEIC goes through libheif (`heic.rs`), the others through the `image` crate.
//!
//! Blocking and CPU-heavy: run it in `tokio::task::spawn_blocking`.

use super::{FULL_EDGE, THUMB_EDGE};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use std::io::Cursor;

/// The largest width or height decoded, in pixels.
pub const MAX_EDGE: u32 = 8192;
/// The most memory a decode may take (the decoded pixels included).
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// JPEG quality of the stored images.
pub const QUALITY: u8 = 85;

/// The formats accepted, as recognised from their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
    Heic,
}

/// Why an upload is not kept (each becomes a 4xx with a sentence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not one of the formats, or it does not decode.
    NotAPhoto,
    /// More pixels than we decode (a decompression bomb looks like this).
    TooManyPixels,
}

/// The two images kept for a photo, both JPEG.
#[derive(Clone, Debug)]
pub struct Processed {
    pub full: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub thumb: Vec<u8>,
    pub thumb_width: u32,
    pub thumb_height: u32,
}

/// The format of a file from its magic bytes (never its name or declared type).
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some(Format::WebP);
    }
    // ISO base media file: a box of type `ftyp` whose major brand is a HEIF one.
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        let heif: [&[u8; 4]; 8] = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"];
        if heif.iter().any(|b| brand == *b) {
            return Some(Format::Heic);
        }
    }
    None
}

/// Whether the type the client declared for the file may be a photo: an image
/// type, or none in particular (browsers send `application/octet-stream` for
/// types they do not know, HEIC among them on some systems).
pub fn declared_type_may_be_photo(declared: Option<&str>) -> bool {
    let Some(declared) = declared else { return true };
    let essence = declared.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence.is_empty() || essence.starts_with("image/") || essence == "application/octet-stream"
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn refusal(err: image::ImageError) -> Refusal {
    match err {
        image::ImageError::Limits(_) => Refusal::TooManyPixels,
        _ => Refusal::NotAPhoto,
    }
}

/// Decodes a JPEG, PNG or WebP within the limits and turns it upright (EXIF orientation).
fn decode(bytes: &[u8], format: Format) -> Result<DynamicImage, Refusal> {
    let format = match format {
        Format::Jpeg => ImageFormat::Jpeg,
        Format::Png => ImageFormat::Png,
        Format::WebP => ImageFormat::WebP,
        Format::Heic => return super::heic::decode(bytes, MAX_EDGE, MAX_ALLOC),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    // The header is read here, and the dimensions checked against the limits.
    let mut decoder = reader.into_decoder().map_err(refusal)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 || w > MAX_EDGE || h > MAX_EDGE || decoder.total_bytes() > MAX_ALLOC {
        return Err(Refusal::TooManyPixels);
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(refusal)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// The pixels as RGB, transparent parts laid on white (JPEG has no alpha).
fn flatten(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| ((c as u32 * a as u32 + 255 * (255 - a as u32)) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

/// At most `edge` pixels on its longest side (never enlarged).
fn fit(image: &RgbImage, edge: u32, filter: FilterType) -> RgbImage {
    let (w, h) = image.dimensions();
    if w <= edge && h <= edge {
        return image.clone();
    }
    let scale = edge as f64 / w.max(h) as f64;
    let nw = ((w as f64 * scale).round() as u32).clamp(1, edge);
    let nh = ((h as f64 * scale).round() as u32).clamp(1, edge);
    image::imageops::resize(image, nw, nh, filter)
}

fn jpeg(image: &RgbImage) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY).encode_image(image).map_err(|_| Refusal::NotAPhoto)?;
    Ok(out)
}

/// The whole job: sniff, decode, turn upright, re-encode the photo (longest
/// edge at most `FULL_EDGE`) and its thumbnail (`THUMB_EDGE`).
pub fn process(bytes: &[u8]) -> Result<Processed, Refusal> {
    let format = sniff(bytes).ok_or(Refusal::NotAPhoto)?;
    let decoded = decode(bytes, format)?;
    let pixels = flatten(&decoded);
    drop(decoded);
    let full = fit(&pixels, FULL_EDGE, FilterType::Triangle);
    drop(pixels);
    let thumb = fit(&full, THUMB_EDGE, FilterType::Triangle);
    Ok(Processed {
        width: full.width(),
        height: full.height(),
        thumb_width: thumb.width(),
        thumb_height: thumb.height(),
        full: jpeg(&full)?,
        thumb: jpeg(&thumb)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures_tests as fx;
    use super::*;

    fn dims(jpeg: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).expect("a JPEG");
        (img.width(), img.height())
    }

    #[test]
    fn formats_are_recognised_by_their_bytes_only() {
        assert_eq!(sniff(&fx::png(4, 3)), Some(Format::Png));
        assert_eq!(sniff(&fx::jpeg(4, 3)), Some(Format::Jpeg));
        assert_eq!(sniff(&fx::webp(4, 3)), Some(Format::WebP));
        assert_eq!(sniff(fx::HEIC_HEADER), Some(Format::Heic));
        assert_eq!(sniff(&fx::heic(16, 16)), Some(Format::Heic));
        assert_eq!(sniff(b"GIF89a......"), None);
        assert_eq!(sniff(b"Hello, this is a text file called photo.jpg"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
    }

    #[test]
    fn declared_types_other_than_images_are_not_photos() {
        assert!(declared_type_may_be_photo(Some("image/jpeg")));
        assert!(declared_type_may_be_photo(Some("IMAGE/HEIC")));
        assert!(declared_type_may_be_photo(Some("application/octet-stream")));
        assert!(declared_type_may_be_photo(None));
        assert!(!declared_type_may_be_photo(Some("text/plain")));
        assert!(!declared_type_may_be_photo(Some("application/pdf")));
        assert!(!declared_type_may_be_photo(Some("video/mp4")));
    }

    #[test]
    fn every_format_becomes_a_jpeg_and_a_thumbnail() {
        let formats = [
            ("png", fx::png(640, 480)),
            ("jpeg", fx::jpeg(640, 480)),
            ("webp", fx::webp(640, 480)),
            ("heic", fx::heic(640, 480)),
        ];
        for (name, bytes) in formats {
            let p = process(&bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!((p.width, p.height), (640, 480), "{name}");
            assert_eq!(dims(&p.full), (640, 480), "{name}");
            assert_eq!((p.thumb_width, p.thumb_height), (320, 240), "{name}");
            assert_eq!(dims(&p.thumb), (320, 240), "{name}");
            assert_eq!(sniff(&p.full), Some(Format::Jpeg));
        }
    }

    #[test]
    fn large_photos_are_scaled_down_small_ones_kept() {
        let p = process(&fx::png(3000, 1500)).unwrap();
        assert_eq!((p.width, p.height), (2048, 1024));
        assert_eq!(dims(&p.full), (2048, 1024));
        assert_eq!((p.thumb_width, p.thumb_height), (320, 160));
        let p = process(&fx::png(100, 50)).unwrap();
        assert_eq!((p.width, p.height, p.thumb_width, p.thumb_height), (100, 50, 100, 50));
    }

    #[test]
    fn exif_orientation_is_applied_then_dropped_with_the_location() {
        let original = fx::jpeg_with_gps(64, 32);
        assert!(fx::contains(&original, b"Exif\0\0") && fx::contains(&original, fx::GPS_MARKER));
        // The fixture's EXIF is read by the decoder: orientation 6 (turn 90° clockwise).
        let mut decoder =
            ImageReader::with_format(Cursor::new(&original[..]), ImageFormat::Jpeg).into_decoder().unwrap();
        assert_eq!(decoder.orientation().unwrap(), image::metadata::Orientation::Rotate90);

        let p = process(&original).unwrap();
        assert_eq!((p.width, p.height), (32, 64), "turned upright");
        for kept in [&p.full, &p.thumb] {
            assert!(!fx::contains(kept, b"Exif"), "no EXIF segment");
            assert!(!fx::contains(kept, &[0xFF, 0xE1]), "no APP1 marker");
            assert!(!fx::contains(kept, fx::GPS_MARKER), "no location text");
            assert!(!fx::contains(kept, &fx::GPS_LATITUDE), "no latitude");
        }
    }

    #[test]
    fn transparent_pixels_are_laid_on_white() {
        let p = process(&fx::transparent_png(8, 8)).unwrap();
        let img = image::load_from_memory(&p.full).unwrap().to_rgb8();
        let px = img.get_pixel(4, 4).0;
        assert!(px.iter().all(|&c| c > 240), "{px:?}");
    }

    #[test]
    fn hostile_files_are_refused() {
        assert_eq!(process(b"just some text, renamed photo.jpg").unwrap_err(), Refusal::NotAPhoto);
        assert_eq!(process(b"").unwrap_err(), Refusal::NotAPhoto);
        // A JPEG's first bytes and then nothing useful.
        let mut broken = fx::jpeg(32, 32);
        broken.truncate(40);
        assert_eq!(process(&broken).unwrap_err(), Refusal::NotAPhoto);
        let mut noise = b"\x89PNG\r\n\x1a\n".to_vec();
        noise.extend(std::iter::repeat_n(0x5a, 500));
        assert_eq!(process(&noise).unwrap_err(), Refusal::NotAPhoto);
        assert_eq!(
            process(fx::HEIC_HEADER).unwrap_err(),
            Refusal::NotAPhoto,
            "a HEIC header and nothing else"
        );
        // 20000 × 20000 pixels in a couple of megabytes: refused before decoding.
        let bomb = fx::png_bomb(20_000, 20_000);
        assert!(bomb.len() < super::super::MAX_PHOTO_BYTES, "{} bytes", bomb.len());
        assert_eq!(process(&bomb).unwrap_err(), Refusal::TooManyPixels);
        // A HEIC larger than the limits is refused from its header (x265 cannot
        // make one over 8192 pixels wide, so the limits are made small here).
        let heic = fx::heic(200, 100);
        assert_eq!(super::super::heic::decode(&heic, 199, MAX_ALLOC).unwrap_err(), Refusal::TooManyPixels);
        assert_eq!(
            super::super::heic::decode(&heic, 200, 200 * 100 * 3 - 1).unwrap_err(),
            Refusal::TooManyPixels
        );
        assert!(super::super::heic::decode(&heic, 200, 200 * 100 * 3).is_ok());
        // Within the edge limit, but more memory than allowed (8000 × 8000 RGBA, 16 bits).
        assert_eq!(process(&fx::png_header_only(8000, 8000, 6, 16)).unwrap_err(), Refusal::TooManyPixels);
    }
}
