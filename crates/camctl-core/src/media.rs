//! Sample media for the camera emulators: small, real, decodable baseline JPEGs.
//!
//! Pictures are synthetic landscapes (sky gradient, sun, buildings, hills, sometimes a
//! lake) whose layout and colours derive from a seed, so every seed gives a different
//! but reproducible photo. Smooth shapes instead of noise keep the files small
//! (a 640x480 picture is a few tens of KiB).

use std::f32::consts::TAU;
use std::path::{Path, PathBuf};

/// JPEG quality: typical for camera "fine" settings.
const QUALITY: u8 = 85;

/// The width and height a JPEG's frame header (SOF0..SOF15, except DHT/JPG/DAC) gives, walking its
/// marker segments; `None` for anything else. Total: every length is checked against the bytes.
///
/// ```
/// let jpeg = camctl_core::media::sample_jpeg(64, 48, 1);
/// assert_eq!(camctl_core::media::jpeg_dimensions(&jpeg), Some((64, 48)));
/// assert_eq!(camctl_core::media::jpeg_dimensions(&jpeg[..20]), None);
/// assert_eq!(camctl_core::media::jpeg_dimensions(b"not a jpeg"), None);
/// ```
pub fn jpeg_dimensions(jpeg: &[u8]) -> Option<(u16, u16)> {
    if jpeg.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        let (&ff, &marker) = (jpeg.get(at)?, jpeg.get(at + 1)?);
        if ff != 0xFF {
            return None;
        }
        if marker == 0xFF {
            // Fill byte.
            at += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]));
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let sof = jpeg.get(at + 4..at + 9)?;
            return Some((u16::from_be_bytes([sof[3], sof[4]]), u16::from_be_bytes([sof[1], sof[2]])));
        }
        if marker == 0xDA || len < 2 {
            return None;
        }
        at += 2 + len;
    }
}

/// Encodes a `width` x `height` synthetic photo as a JPEG; `seed` changes the content (same seed -> same bytes).
///
/// A width or height of 0 is clamped to 1. The result is a baseline (SOF0) JFIF JPEG.
/// Should encoding ever fail (e.g. the pixel buffer cannot be allocated for a huge
/// size), a 1x1 picture is returned instead, so the result is always a valid JPEG.
///
/// ```
/// let a = camctl_core::media::sample_jpeg(64, 48, 1);
/// let b = camctl_core::media::sample_jpeg(64, 48, 2);
/// assert_eq!(&a[..2], &[0xFF, 0xD8]);
/// assert_ne!(a, b);
/// assert_eq!(a, camctl_core::media::sample_jpeg(64, 48, 1));
/// ```
pub fn sample_jpeg(width: u16, height: u16, seed: u64) -> Vec<u8> {
    let (width, height) = (width.max(1), height.max(1));
    match encode_scene(width, height, seed) {
        Ok(jpeg) => jpeg,
        Err(e) => {
            tracing::warn!(width, height, error = %e, "sample JPEG failed, using 1x1");
            // A 1x1 picture needs 3 bytes of pixels; it cannot realistically fail.
            encode_scene(1, 1, seed).unwrap_or_default()
        }
    }
}

/// Writes `count` sample pictures named IMG_0001.JPG.. into `dir` (created if missing), 640x480, returns their paths.
///
/// Picture `n` uses seed `n`, so the files differ from each other and are the same on
/// every run.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let tmp = tempfile::tempdir()?;
/// let dir = tmp.path().join("DCIM/100EMU01");
/// let paths = camctl_core::media::write_sample_pictures(&dir, 2)?;
/// assert_eq!(paths, [dir.join("IMG_0001.JPG"), dir.join("IMG_0002.JPG")]);
/// # Ok(())
/// # }
/// ```
pub fn write_sample_pictures(dir: &Path, count: usize) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    (1..=count)
        .map(|n| {
            let path = dir.join(format!("IMG_{n:04}.JPG"));
            std::fs::write(&path, sample_jpeg(640, 480, n as u64))?;
            Ok(path)
        })
        .collect()
}

/// SplitMix64: tiny, fast, and good enough to turn consecutive seeds into unrelated scenes.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// One of `items` (only called with non-empty constant tables).
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

type Rgb = [f32; 3];

fn lerp(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

fn jitter(rng: &mut Rng, c: Rgb, amount: f32) -> Rgb {
    c.map(|v| v + rng.range(-amount, amount))
}

/// Row-major RGB canvas with clipped drawing.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: usize, y: usize, c: Rgb) {
        let i = (y * self.w + x) * 3;
        for (dst, v) in self.px[i..i + 3].iter_mut().zip(c) {
            // `as` saturates, and NaN becomes 0: never out of range.
            *dst = v.round() as u8;
        }
    }

    fn get(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.w + x) * 3;
        [f32::from(self.px[i]), f32::from(self.px[i + 1]), f32::from(self.px[i + 2])]
    }

    /// Clips a float span to `0..limit` as pixel indices.
    fn clip(lo: f32, hi: f32, limit: usize) -> std::ops::Range<usize> {
        let lo = lo.max(0.0).min(limit as f32) as usize;
        let hi = hi.max(0.0).min(limit as f32) as usize;
        lo..hi.max(lo)
    }

    fn fill_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Rgb) {
        for y in Self::clip(y0, y1, self.h) {
            for x in Self::clip(x0, x1, self.w) {
                self.set(x, y, c);
            }
        }
    }
}

fn encode_scene(width: u16, height: u16, seed: u64) -> Result<Vec<u8>, String> {
    let (w, h) = (usize::from(width), usize::from(height));
    let len = w * h * 3;
    let mut px = Vec::new();
    // Fail softly instead of aborting when a huge size cannot be allocated.
    px.try_reserve_exact(len).map_err(|e| e.to_string())?;
    px.resize(len, 0);
    let mut canvas = Canvas { w, h, px };
    paint_scene(&mut canvas, &mut Rng(seed));

    let mut out = Vec::with_capacity(len / 12 + 1024);
    let encoder = jpeg_encoder::Encoder::new(&mut out, QUALITY);
    encoder.encode(&canvas.px, width, height, jpeg_encoder::ColorType::Rgb).map_err(|e| e.to_string())?;
    Ok(out)
}

fn paint_scene(c: &mut Canvas, rng: &mut Rng) {
    let (wf, hf) = (c.w as f32, c.h as f32);

    // Sky: a few moods (day, sunset, dusk, overcast) with per-seed variation.
    let palettes: [(Rgb, Rgb); 4] = [
        ([40.0, 90.0, 190.0], [170.0, 205.0, 240.0]),
        ([70.0, 60.0, 140.0], [250.0, 160.0, 90.0]),
        ([20.0, 25.0, 70.0], [190.0, 110.0, 150.0]),
        ([120.0, 130.0, 145.0], [200.0, 205.0, 210.0]),
    ];
    let (top, bottom) = rng.pick(&palettes);
    let (sky_top, sky_bottom) = (jitter(rng, top, 25.0), jitter(rng, bottom, 25.0));
    let horizon = hf * rng.range(0.42, 0.68);
    let tilt = rng.range(-20.0, 20.0); // left/right brightness difference
    for y in 0..c.h {
        let row = lerp(sky_top, sky_bottom, (y as f32 / horizon.max(1.0)).min(1.0));
        for x in 0..c.w {
            let shade = tilt * (x as f32 / wf - 0.5);
            c.set(x, y, row.map(|v| v + shade));
        }
    }

    // Sun with a soft glow.
    let sun = jitter(rng, [255.0, 230.0, 170.0], 15.0);
    let (sx, sy) = (rng.range(0.05, 0.95) * wf, rng.range(0.08, 0.8) * horizon);
    let r = hf.min(wf) * rng.range(0.04, 0.1);
    let glow = r * 2.5;
    for y in Canvas::clip(sy - glow, sy + glow, c.h) {
        for x in Canvas::clip(sx - glow, sx + glow, c.w) {
            let d = (x as f32 - sx).hypot(y as f32 - sy);
            if d < r {
                c.set(x, y, sun);
            } else if d < glow {
                let t = 1.0 - (d - r) / (glow - r);
                let base = c.get(x, y);
                c.set(x, y, lerp(base, sun, 0.55 * t * t));
            }
        }
    }

    // Buildings standing on the horizon, with window grids.
    let count = 2 + rng.next_u64() % 6;
    for _ in 0..count {
        let bw = wf * rng.range(0.04, 0.12);
        let bh = hf * rng.range(0.08, 0.32);
        let x0 = rng.range(-0.05, 0.95) * wf;
        let wall = jitter(rng, [95.0, 90.0, 88.0], 35.0);
        let base = horizon + hf * 0.03; // hills cover the foot
        c.fill_rect(x0, base - bh, x0 + bw, base, wall);
        let cell = (bw / 5.0).max(2.0);
        let lit = jitter(rng, [235.0, 215.0, 140.0], 15.0);
        let dark = lerp(wall, [20.0, 25.0, 35.0], 0.6);
        let mut wy = base - bh + cell * 0.6;
        while wy + cell * 0.6 < base {
            let mut wx = x0 + cell * 0.5;
            while wx + cell * 0.5 < x0 + bw {
                let colour = if rng.unit() < 0.4 { lit } else { dark };
                c.fill_rect(wx, wy, wx + cell * 0.5, wy + cell * 0.6, colour);
                wx += cell;
            }
            wy += cell * 1.2;
        }
    }

    // Rolling hills in front, darker towards the viewer, with field bands.
    let amp1 = hf * rng.range(0.01, 0.06);
    let amp2 = hf * rng.range(0.0, 0.025);
    let (f1, f2) = (rng.range(1.0, 4.0), rng.range(5.0, 12.0));
    let (p1, p2) = (rng.range(0.0, TAU), rng.range(0.0, TAU));
    let grounds: [Rgb; 3] = [[70.0, 120.0, 50.0], [150.0, 130.0, 80.0], [95.0, 105.0, 60.0]];
    let ground = rng.pick(&grounds);
    let far = jitter(rng, ground, 20.0);
    let near = lerp(far, [25.0, 35.0, 20.0], rng.range(0.3, 0.6));
    let bands = rng.range(4.0, 14.0);
    let ridge: Vec<f32> = (0..c.w)
        .map(|x| {
            let u = x as f32 / wf * TAU;
            horizon + amp1 * (u * f1 + p1).sin() + amp2 * (u * f2 + p2).sin()
        })
        .collect();
    for y in 0..c.h {
        let yf = y as f32;
        let band_shade = 12.0 * ((yf / hf) * bands * TAU).sin();
        for (x, &top) in ridge.iter().enumerate() {
            if yf >= top {
                let t = ((yf - top) / (hf - top).max(1.0)).clamp(0.0, 1.0);
                let colour = lerp(far, near, t).map(|v| v + band_shade);
                c.set(x, y, colour);
            }
        }
    }

    // Sometimes a lake reflecting the sky.
    if rng.unit() < 0.5 {
        let ly0 = horizon + hf * rng.range(0.08, 0.18);
        let ly1 = ly0 + hf * rng.range(0.05, 0.12);
        let lx0 = wf * rng.range(-0.2, 0.5);
        let lx1 = lx0 + wf * rng.range(0.3, 0.8);
        let water_far = lerp(sky_bottom, [30.0, 60.0, 110.0], 0.35);
        let water_near = lerp(sky_top, [10.0, 30.0, 60.0], 0.4);
        for y in Canvas::clip(ly0, ly1, c.h) {
            let t = (y as f32 - ly0) / (ly1 - ly0).max(1.0);
            c.fill_rect(lx0, y as f32, lx1, y as f32 + 1.0, lerp(water_far, water_near, t));
        }
    }
}

/// `len` deterministic, incompressible-looking bytes (xorshift64; same `seed`, same bytes): stand-in
/// for video and RAW files in tests and benchmarks.
///
/// ```
/// let a = camctl_core::media::noise(1000, 7);
/// assert_eq!(a, camctl_core::media::noise(1000, 7));
/// assert_ne!(a, camctl_core::media::noise(1000, 8));
/// ```
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    fill_noise(&mut out, &mut (seed | 1));
    out
}

fn fill_noise(buf: &mut [u8], state: &mut u64) {
    let mut x = *state;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    *state = x;
}

/// Writes a file of [`noise`] of `size` bytes (parents created), 1 MiB at a time, so files of any size
/// cost little memory.
pub fn write_noise_file(path: &Path, size: u64, seed: u64) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut block = vec![0u8; 1 << 20];
    let mut state = seed | 1;
    let mut left = size;
    while left > 0 {
        fill_noise(&mut block, &mut state);
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Walks the JPEG markers up to the first scan; returns (SOF marker, width, height).
    fn frame_header(jpeg: &[u8]) -> Option<(u8, u16, u16)> {
        let mut i = 2;
        let mut sof = None;
        while i + 4 <= jpeg.len() {
            if jpeg[i] != 0xFF {
                return None;
            }
            let marker = jpeg[i + 1];
            let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
            if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
                let seg = jpeg.get(i + 4..i + 2 + len)?;
                let height = u16::from_be_bytes([seg[1], seg[2]]);
                let width = u16::from_be_bytes([seg[3], seg[4]]);
                sof = Some((marker, width, height));
            }
            if marker == 0xDA {
                return sof;
            }
            i += 2 + len;
        }
        None
    }

    fn check_structure(jpeg: &[u8], w: u16, h: u16) {
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "SOI");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "EOI");
        assert_eq!(frame_header(jpeg), Some((0xC0, w, h)), "baseline SOF0");
    }

    #[test]
    fn structure_and_sizes() {
        for (w, h) in [(640, 480), (1, 1), (17, 9), (3, 200), (333, 2)] {
            check_structure(&sample_jpeg(w, h, 7), w, h);
        }
        check_structure(&sample_jpeg(0, 0, 7), 1, 1);
        check_structure(&sample_jpeg(0, 5, 7), 1, 5);
        let jpeg = sample_jpeg(640, 480, 1);
        assert!(jpeg.len() < 150_000, "too big: {}", jpeg.len());
    }

    #[test]
    fn seeds_vary_content_deterministically() {
        let pics: Vec<Vec<u8>> = (0..20).map(|s| sample_jpeg(160, 120, s)).collect();
        for (i, a) in pics.iter().enumerate() {
            for b in &pics[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(sample_jpeg(160, 120, 5), pics[5]);
        assert_ne!(sample_jpeg(160, 120, u64::MAX), sample_jpeg(160, 120, 0));
    }

    #[test]
    fn writes_numbered_pictures() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("DCIM/100EMU01");
        let paths = write_sample_pictures(&dir, 3).unwrap();
        let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap()).collect();
        assert_eq!(names, ["IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG"]);
        let first = std::fs::read(&paths[0]).unwrap();
        check_structure(&first, 640, 480);
        assert_ne!(first, std::fs::read(&paths[1]).unwrap());
        assert!(write_sample_pictures(&dir, 0).unwrap().is_empty());
    }

    /// Full decode with ffmpeg when it is installed; structure is tested regardless.
    #[test]
    fn decodes_with_ffmpeg_if_available() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.jpg");
        std::fs::write(&path, sample_jpeg(641, 479, 3)).unwrap();
        let Ok(out) = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=codec_name,width,height"])
            .args(["-of", "csv=p=0"])
            .arg(&path)
            .output()
        else {
            eprintln!("ffprobe not available; skipping decode check");
            return;
        };
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "mjpeg,641,479");
        let Ok(out) = Command::new("ffmpeg")
            .args(["-v", "error", "-xerror", "-i"])
            .arg(&path)
            .args(["-f", "null", "-"])
            .output()
        else {
            return;
        };
        assert!(out.status.success());
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
