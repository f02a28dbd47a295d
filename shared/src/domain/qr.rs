//! QR symbols: the health code shown on phones and the venue code printed on posters.
//!
//! Symbols are drawn as SVG with one `<path>` whose horizontal strokes are the runs of
//! dark modules in each row. That is several times smaller than one square per module,
//! which matters because the health code's SVG is sent to the phone on every refresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use qrcode::EcLevel;
use qrcode::Version;
use qrcode::canvas::{Canvas, MaskPattern, Module};
use qrcode::types::QrError as EncodeError;

/// Light modules on each side of the symbol, the minimum ISO/IEC 18004 asks for.
pub const QUIET_ZONE: usize = 4;

/// Pixels per module at the SVG's intrinsic size: a health code (version 16) is then
/// 356 px wide, which fits a phone screen; the SVG scales without loss anyway.
const PX_PER_MODULE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The message gives the length only: contents are signed tokens, not for logs.
    #[error("content of {0} bytes does not fit in a QR symbol")]
    TooLong(usize),
    #[error("QR encoding failed")]
    Encode(#[source] EncodeError),
}

/// The modules of a QR symbol, without its quiet zone.
#[derive(Debug, Clone)]
pub struct Modules {
    width: usize,
    dark: Vec<bool>,
}

impl Modules {
    /// Modules per side, quiet zone excluded.
    pub fn width(&self) -> usize {
        self.width
    }

    /// SVG path data for the dark modules, in module units with the origin at the
    /// symbol's top-left corner, to be stroked (not filled) with the default width 1:
    /// each run of dark modules is a horizontal line through the middle of its row.
    pub fn path_data(&self) -> String {
        let mut d = String::with_capacity(self.dark.len());
        // The row and column where the pen stands after the previous run.
        let mut pen: Option<(usize, usize)> = None;
        for (y, start, run) in self.dark_runs() {
            match pen {
                Some((row, end)) if row == y => {
                    d.push('m');
                    push_number(&mut d, start - end);
                    d.push_str(" 0h");
                }
                _ => {
                    d.push('M');
                    push_number(&mut d, start);
                    d.push(' ');
                    push_number(&mut d, y);
                    d.push_str(".5h");
                }
            }
            push_number(&mut d, run);
            pen = Some((y, start + run));
        }
        d
    }

    /// The runs of dark modules, row by row from the top, left to right:
    /// `(row, first column, length)`.
    pub fn dark_runs(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.dark.chunks(self.width).enumerate().flat_map(|(y, row)| {
            let mut x = 0;
            std::iter::from_fn(move || {
                while x < row.len() && !row[x] {
                    x += 1;
                }
                let start = x;
                while x < row.len() && row[x] {
                    x += 1;
                }
                (x > start).then(|| (y, start, x - start))
            })
        })
    }
}

/// Appends `n` in decimal: `write!` costs a formatter call per number, and a health
/// code's path has some 3,000 of them (docs/benchmarks.md, "How the release profile got here").
fn push_number(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&digits[i..]).expect("ASCII digits"));
}

/// Encodes `content` at error-correction level `level`, letting the encoder pick the
/// smallest version and the segment modes (byte mode for tokens and URLs).
///
/// The `qrcode` crate encodes, adds error correction and draws the data; the choice among
/// the eight masks is made here, by the crate's own scoring, so the symbol is the one the
/// crate would draw. Masking flips a data module's colour wherever the mask is dark, so a
/// masked symbol is the symbol of the same version and level with no data masked the same
/// way ([`Blank`], drawn once per version and level and kept) with the dark data modules
/// flipped. The eight candidates are scored on 128-bit lines ([`penalty_lines`]) up to
/// version 26, on a flat bitmap ([`penalty`]) beyond. The crate takes about 0.8 ms to score
/// one mask of a health code; masking and scoring the eight here takes about a tenth of a
/// millisecond in all (docs/benchmarks.md).
pub fn modules(content: &str, level: EcLevel) -> Result<Modules, QrError> {
    let encode_error = |e| match e {
        EncodeError::DataTooLong => QrError::TooLong(content.len()),
        other => QrError::Encode(other),
    };
    let bits = qrcode::bits::encode_auto(content.as_bytes(), level).map_err(encode_error)?;
    let version = bits.version();
    let (data, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, level).map_err(encode_error)?;
    let mut canvas = Canvas::new(version, level);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    let side = version.width();
    let width = usize::try_from(side).expect("a symbol's width is positive");
    let mut data_dark = Vec::with_capacity(width * width);
    for y in 0..side {
        for x in 0..side {
            data_dark.push(canvas.get(x, y) == Module::Unmasked(qrcode::Color::Dark));
        }
    }
    let blanks = Blank::for_version(version, level);
    let masked = |blank: &Blank| -> Vec<bool> { blank.dark.iter().zip(&data_dark).map(|(a, b)| a ^ b).collect() };
    let best = if width <= MAX_LINE_WIDTH {
        let (rows, cols) = lines(width, &data_dark);
        let (mut r, mut c) = (vec![0; width], vec![0; width]);
        blanks
            .iter()
            .min_by_key(|blank| {
                for (out, (a, b)) in r.iter_mut().zip(blank.rows.iter().zip(&rows)) {
                    *out = a ^ b;
                }
                for (out, (a, b)) in c.iter_mut().zip(blank.cols.iter().zip(&cols)) {
                    *out = a ^ b;
                }
                penalty_lines(width, &r, &c)
            })
            .expect("eight masks")
    } else {
        blanks
            .iter()
            .min_by_key(|blank| penalty(width, &masked(blank)))
            .expect("eight masks")
    };
    Ok(Modules {
        width,
        dark: masked(best),
    })
}

/// The widest symbol scored on 128-bit lines: the finder-like rule looks up to ten modules
/// past a line's last possible core, which must still fall inside the word (version 26).
const MAX_LINE_WIDTH: usize = 121;

/// A symbol of one version and level with one of the eight masks and no data: its function
/// patterns, the format information of that mask, and the mask itself over the data area.
struct Blank {
    /// Dark modules, row by row.
    dark: Vec<bool>,
    /// The same as lines (bit `x` of row `y`, bit `y` of column `x`), up to [`MAX_LINE_WIDTH`].
    rows: Vec<u128>,
    cols: Vec<u128>,
}

impl Blank {
    /// The eight blanks of `version` at `level`, in the order of [`MASKS`], drawn by the crate
    /// on first use and kept for the life of the process: an instance issues codes of one or
    /// two versions, so a handful of entries at most.
    fn for_version(version: Version, level: EcLevel) -> Arc<[Blank; 8]> {
        type Cache = Mutex<HashMap<(i16, u8), Arc<[Blank; 8]>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(Cache::default);
        let key = (version.width(), level as u8);
        // A poisoned lock only means another thread panicked mid-insert; the map is still whole.
        if let Some(found) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Arc::clone(found);
        }
        let width = usize::try_from(version.width()).expect("a symbol's width is positive");
        let mut base = Canvas::new(version, level);
        base.draw_all_functional_patterns();
        let blanks = Arc::new(MASKS.map(|mask| {
            let mut canvas = base.clone();
            canvas.apply_mask(mask);
            let dark: Vec<bool> = canvas
                .into_colors()
                .into_iter()
                .map(|c| c == qrcode::Color::Dark)
                .collect();
            let (rows, cols) = lines(width, &dark);
            Blank { dark, rows, cols }
        }));
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() < 16 {
            cache.insert(key, Arc::clone(&blanks));
        }
        blanks
    }
}

/// The rows and columns of a bitmap as 128-bit lines, or none beyond [`MAX_LINE_WIDTH`].
fn lines(width: usize, dark: &[bool]) -> (Vec<u128>, Vec<u128>) {
    if width > MAX_LINE_WIDTH {
        return (Vec::new(), Vec::new());
    }
    let (mut rows, mut cols) = (vec![0u128; width], vec![0u128; width]);
    for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
        let (y, x) = (i / width, i % width);
        rows[y] |= 1 << x;
        cols[x] |= 1 << y;
    }
    (rows, cols)
}

/// [`penalty`] on lines: the same four rules, a line at a time. Bit `j` of a line is its
/// module `j`; bits at and past the width are zero, light, as the outside counts for N3.
fn penalty_lines(width: usize, rows: &[u128], cols: &[u128]) -> u32 {
    let all: u128 = (1 << width) - 1;
    let mut score = 0;
    for &line in rows.iter().chain(cols) {
        let light = !line & all;
        // Bit j: modules j..j+4 all of one colour. A run of n ≥ 5 holds n − 4 such windows
        // and starts once (the module before it is of the other colour or outside): n − 2.
        let five = |l: u128| l & (l >> 1) & (l >> 2) & (l >> 3) & (l >> 4);
        let (dark5, light5) = (five(line), five(light));
        let starts = (dark5 & !(line << 1)) | (light5 & !(light << 1));
        score += (dark5 | light5).count_ones() + 2 * starts.count_ones();
        // Bit j: a 1:1:3:1:1 core at modules j..j+6, with four light modules before or after.
        let core = line & (light >> 1) & (line >> 2) & (line >> 3) & (line >> 4) & (light >> 5) & (line >> 6);
        let before = !((line << 1) | (line << 2) | (line << 3) | (line << 4));
        let after = !((line >> 7) | (line >> 8) | (line >> 9) | (line >> 10));
        score += 40 * (core & (before | after)).count_ones();
    }
    // Bit x: the 2×2 block at columns x, x+1 of two neighbouring rows is of one colour.
    for pair in rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        score += 3 * (!(a ^ b) & !(a ^ (a >> 1)) & !(b ^ (b >> 1)) & (all >> 1)).count_ones();
    }
    let dark: usize = rows.iter().map(|r| r.count_ones() as usize).sum();
    let ratio = dark * 200 / (width * width);
    score + ratio.abs_diff(100) as u32
}

const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// The mask penalty exactly as the `qrcode` crate scores it, so that the symbol is the one
/// the crate itself would draw: the rules of ISO/IEC 18004 §7.8.3 for runs of five or more
/// modules of one colour (N1: length − 2), 2×2 blocks of one colour (N2: 3 each),
/// finder-like 1:1:3:1:1 patterns with four light modules on either side, the outside
/// counting as light (N3: 40 each), and the distance of the dark share from half (N4: one
/// point per half percent). Computed on a flat bitmap instead of the crate's canvas.
fn penalty(width: usize, dark: &[bool]) -> u32 {
    // Bits 10..4 of the 15-module window: the 1:1:3:1:1 core; bits 14..11 and 3..0: the
    // four modules on either side (zero beyond the symbol's edge, which counts as light).
    const CORE: u16 = 0b101_1101;
    let mut score = 0;
    for index in 0..width {
        for column_wise in [false, true] {
            let (start, step) = if column_wise {
                (index, width)
            } else {
                (index * width, 1)
            };
            let mut run = 0;
            let mut previous = false;
            let mut window: u16 = 0;
            for i in 0..width + 4 {
                let module = i < width && dark[start + i * step];
                if i < width {
                    if i > 0 && module == previous {
                        run += 1;
                    } else {
                        if run >= 5 {
                            score += run - 2;
                        }
                        run = 1;
                        previous = module;
                    }
                }
                window = ((window << 1) | u16::from(module)) & 0x7FFF;
                if (window >> 4) & 0x7F == CORE && (window >> 11 == 0 || window & 0xF == 0) {
                    score += 40;
                }
            }
            if run >= 5 {
                score += run - 2;
            }
        }
    }
    for (row, below) in dark.chunks_exact(width).zip(dark.chunks_exact(width).skip(1)) {
        for (top, bottom) in row.windows(2).zip(below.windows(2)) {
            if top[0] == top[1] && top[0] == bottom[0] && top[0] == bottom[1] {
                score += 3;
            }
        }
    }
    let ratio = dark.iter().filter(|d| **d).count() * 200 / dark.len();
    score + ratio.abs_diff(100) as u32
}

/// A standalone SVG document of the QR symbol for `content` at error-correction level M,
/// black on white with a quiet zone of [`QUIET_ZONE`] modules.
pub fn svg(content: &str) -> Result<String, QrError> {
    let symbol = modules(content, EcLevel::M)?;
    let q = QUIET_ZONE;
    let side = symbol.width() + 2 * q;
    let px = side * PX_PER_MODULE;
    Ok(format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" "#,
            r#"viewBox="-{q} -{q} {side} {side}" shape-rendering="crispEdges">"#,
            r##"<rect x="-{q}" y="-{q}" width="{side}" height="{side}" fill="#fff"/>"##,
            r##"<path stroke="#000" d="{d}"/></svg>"##,
        ),
        px = px,
        q = q,
        side = side,
        d = symbol.path_data(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use resvg::tiny_skia::{Pixmap, Transform};
    use resvg::usvg::{Options, Tree};

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut out = String::new();
        for n in [0, 7, 10, 99, 100, 123_456, usize::MAX] {
            push_number(&mut out, n);
            out.push(',');
        }
        assert_eq!(out, format!("0,7,10,99,100,123456,{},", usize::MAX));
    }

    #[test]
    fn the_path_draws_each_run_once_moving_relatively_within_a_row() {
        // Row 0: runs at 0..2 and 5..6; row 1: a run at 3..5.
        let symbol = Modules {
            width: 7,
            dark: [[1, 1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 1, 0, 0]]
                .iter()
                .flatten()
                .map(|&m| m == 1)
                .collect(),
        };
        assert_eq!(symbol.path_data(), "M0 0.5h2m3 0h1M3 1.5h2");
    }

    #[test]
    fn the_penalty_of_a_blank_symbol_follows_the_four_rules() {
        // 42 lines each one run of 21 (21 − 2), 400 blocks (3 each), no finder-like
        // pattern, 0 % dark (100 half-percents from half).
        assert_eq!(penalty(21, &[false; 21 * 21]), 42 * 19 + 400 * 3 + 100);
    }

    #[test]
    fn the_mask_chosen_is_the_one_the_qrcode_crate_chooses() {
        // The same scoring, so the same symbol; only the speed differs. Up to 420
        // characters at M the lines are scored ([`penalty_lines`]), 600 and 900 need
        // versions past 26 and the flat bitmap ([`penalty`]); the other levels likewise.
        let contents = [100, 120, 200, 300, 420, 600, 900].map(jws_like);
        for content in contents.iter().map(String::as_str).chain(["x", VENUE_URL]) {
            let len = content.len();
            for level in [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H] {
                let Ok(theirs) = qrcode::QrCode::with_error_correction_level(content, level) else {
                    assert!(modules(content, level).is_err(), "{len} characters at {level:?}");
                    continue;
                };
                let ours = modules(content, level).unwrap();
                let theirs: Vec<bool> = theirs
                    .into_colors()
                    .into_iter()
                    .map(|c| c == qrcode::Color::Dark)
                    .collect();
                assert!(ours.dark == theirs, "content of {len} characters at {level:?}");
            }
        }
    }

    #[test]
    fn the_penalty_on_lines_is_the_penalty_on_the_bitmap() {
        // Random bitmaps of every width the lines take, one in three modules dark, plus
        // the edge cases: all light, all dark, and stripes that make runs and patterns.
        let mut state: u32 = 0x2026_1201;
        for width in [21, 25, 57, 81, 101, MAX_LINE_WIDTH] {
            let mut bitmaps: Vec<Vec<bool>> = (0..40)
                .map(|_| {
                    (0..width * width)
                        .map(|_| {
                            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                            (state >> 28).is_multiple_of(3)
                        })
                        .collect()
                })
                .collect();
            bitmaps.push(vec![false; width * width]);
            bitmaps.push(vec![true; width * width]);
            bitmaps.push(
                (0..width * width)
                    .map(|i| [1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0][i % 11] == 1)
                    .collect(),
            );
            for dark in bitmaps {
                let (rows, cols) = lines(width, &dark);
                assert_eq!(
                    penalty_lines(width, &rows, &cols),
                    penalty(width, &dark),
                    "width {width}"
                );
            }
        }
    }

    /// A string shaped like a compact JWS (base64url header, claims and signature) of
    /// `len` characters, with deterministic pseudo-random characters.
    fn jws_like(len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut state: u32 = 0x2026_1126;
        (0..len)
            .map(|i| {
                if i == 40 || i == len - 87 {
                    return '.';
                }
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ALPHABET[(state >> 26) as usize] as char
            })
            .collect()
    }

    fn health_code() -> String {
        format!("HBHC:1:{}", jws_like(420))
    }

    const VENUE_URL: &str = "https://hc.example.gov.cn/v?c=\
        AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_QA";

    /// Rasterises `svg` at `scale` times its intrinsic size and returns every decoded text.
    fn decode(svg: &str, scale: f32) -> Vec<String> {
        let tree = Tree::from_str(svg, &Options::default()).expect("the SVG parses");
        let size = tree.size().to_int_size().scale_by(scale).expect("a non-empty size");
        let mut pixmap = Pixmap::new(size.width(), size.height()).expect("a pixmap");
        resvg::render(&tree, Transform::from_scale(scale, scale), &mut pixmap.as_mut());
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(pixmap.width() as usize, pixmap.height() as usize, |x, y| {
                pixmap.pixel(x as u32, y as u32).map_or(255, |p| p.red())
            });
        image
            .detect_grids()
            .iter()
            .map(|grid| grid.decode().expect("the symbol decodes").1)
            .collect()
    }

    #[test]
    fn health_code_svg_decodes_to_its_content_at_several_sizes() {
        let content = health_code();
        let svg = svg(&content).unwrap();
        // 2, 3, 4 (intrinsic) and 6.5 pixels per module, the last one not a whole number.
        for scale in [0.5, 0.75, 1.0, 1.625] {
            assert_eq!(decode(&svg, scale), [content.as_str()], "at scale {scale}");
        }
    }

    #[test]
    fn venue_url_svg_decodes_to_its_content_at_several_sizes() {
        let svg = svg(VENUE_URL).unwrap();
        for scale in [0.5, 1.0, 2.5] {
            assert_eq!(decode(&svg, scale), [VENUE_URL], "at scale {scale}");
        }
    }

    #[test]
    fn health_code_svg_stays_small() {
        let content = health_code();
        let svg = svg(&content).unwrap();
        println!("QR SVG for {} characters: {} bytes", content.len(), svg.len());
        assert!(svg.len() < 12 * 1024, "{} bytes", svg.len());
    }

    #[test]
    fn svg_has_quiet_zone_and_intrinsic_size() {
        let symbol = modules(VENUE_URL, EcLevel::M).unwrap();
        let side = symbol.width() + 2 * QUIET_ZONE;
        let svg = svg(VENUE_URL).unwrap();
        assert!(svg.contains(&format!(r#"viewBox="-4 -4 {side} {side}""#)));
        assert!(svg.contains(&format!(r#"width="{}""#, side * PX_PER_MODULE)));
    }

    #[test]
    fn too_long_content_is_an_error_not_a_panic() {
        let content = "x".repeat(3000);
        let error = svg(&content).unwrap_err();
        assert!(matches!(error, QrError::TooLong(3000)));
        assert!(!error.to_string().contains("xxx"));
    }

    #[test]
    fn higher_error_correction_needs_more_modules() {
        let m = modules(VENUE_URL, EcLevel::M).unwrap();
        let q = modules(VENUE_URL, EcLevel::Q).unwrap();
        assert!(q.width() > m.width());
    }
}
