//! HEIC (HEIF with HEVC) photos, as iPhones take them, decoded with the
//! system's libheif: the size is checked from the file's header before any
//! pixel is decoded, and libheif applies the file's own rotation and mirroring.

use super::image::Refusal;
use image::{DynamicImage, RgbImage};
use libheif_rs::{ColorSpace, HeifContext, LibHeif, RgbChroma};

/// The upright pixels of a HEIC file's primary image, at most `max_edge` on a
/// side and `max_bytes` of RGB.
pub fn decode(bytes: &[u8], max_edge: u32, max_bytes: u64) -> Result<DynamicImage, Refusal> {
    let lib = LibHeif::new();
    let mut context = HeifContext::read_from_bytes(bytes).map_err(|_| Refusal::NotAPhoto)?;
    context.set_max_decoding_threads(2);
    let handle = context.primary_image_handle().map_err(|_| Refusal::NotAPhoto)?;
    let (w, h) = (handle.width(), handle.height());
    if w == 0 || h == 0 || w > max_edge || h > max_edge || w as u64 * h as u64 * 3 > max_bytes {
        return Err(Refusal::TooManyPixels);
    }
    let decoded =
        lib.decode(&handle, ColorSpace::Rgb(RgbChroma::Rgb), None).map_err(|_| Refusal::NotAPhoto)?;
    let planes = decoded.planes();
    let plane = planes.interleaved.ok_or(Refusal::NotAPhoto)?;
    // The decoded size may differ from the header's after rotation or cropping.
    let (w, h, stride) = (plane.width, plane.height, plane.stride);
    if w == 0 || h == 0 || w > max_edge || h > max_edge {
        return Err(Refusal::TooManyPixels);
    }
    let row = w as usize * 3;
    if stride < row || plane.data.len() < stride * (h as usize - 1) + row {
        return Err(Refusal::NotAPhoto);
    }
    let mut rgb = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        rgb.extend_from_slice(&plane.data[y * stride..y * stride + row]);
    }
    RgbImage::from_raw(w, h, rgb).map(DynamicImage::ImageRgb8).ok_or(Refusal::NotAPhoto)
}
