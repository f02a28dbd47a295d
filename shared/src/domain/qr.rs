//! QR symbols: the health code shown on phones and the venue code printed on posters.
//!
//! Symbols are drawn as SVG with one `<path>` whose horizontal strokes are the runs of
//! dark modules in each row. That is several times smaller than one square per module,
//! which matters because the health code's SVG is sent to the phone on every refresh.

use std::fmt::Write;

pub use qrcode::EcLevel;
use qrcode::QrCode;
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
        for (y, row) in self.dark.chunks(self.width).enumerate() {
            // Where the pen stands after the previous run of this row, if any.
            let mut pen: Option<usize> = None;
            let mut x = 0;
            while x < self.width {
                if !row[x] {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.width && row[x] {
                    x += 1;
                }
                let run = x - start;
                // Writing to a String cannot fail.
                let _ = match pen {
                    None => write!(d, "M{start} {y}.5h{run}"),
                    Some(end) => write!(d, "m{} 0h{run}", start - end),
                };
                pen = Some(x);
            }
        }
        d
    }
}

/// Encodes `content` at error-correction level `level`, letting the encoder pick the
/// smallest version and the segment modes (byte mode for tokens and URLs).
pub fn modules(content: &str, level: EcLevel) -> Result<Modules, QrError> {
    let code = QrCode::with_error_correction_level(content, level).map_err(|e| match e {
        EncodeError::DataTooLong => QrError::TooLong(content.len()),
        other => QrError::Encode(other),
    })?;
    Ok(Modules {
        width: code.width(),
        dark: code
            .into_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect(),
    })
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
        let size = tree
            .size()
            .to_int_size()
            .scale_by(scale)
            .expect("a non-empty size");
        let mut pixmap = Pixmap::new(size.width(), size.height()).expect("a pixmap");
        resvg::render(
            &tree,
            Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(
            pixmap.width() as usize,
            pixmap.height() as usize,
            |x, y| pixmap.pixel(x as u32, y as u32).map_or(255, |p| p.red()),
        );
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
        println!(
            "QR SVG for {} characters: {} bytes",
            content.len(),
            svg.len()
        );
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
