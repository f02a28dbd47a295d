//! The printable venue poster (场所码): the venue's name, its QR code and how to use it;
//! and the paper code's card (纸质码): the masked name, the QR code and its expiry.
//!
//! Each is laid out once, on its page in millimetres ([`Layout`]: A4 for the poster, A6
//! for the card, which is carried rather than posted), and drawn from
//! that layout twice: as an SVG document, whose text viewers set in a Chinese font, and as
//! a black-and-white PNG, whose text is filled from the embedded font's own glyph outlines
//! by the small rasteriser of [`crate::raster`], so Lambda draws exactly what the tests see
//! here and carries no SVG renderer, text shaper or colour canvas. Text is measured with
//! the same font's advance widths to pick the size and the line breaks, so a long name
//! shrinks and wraps instead of running off the page.

mod raster;

use std::fmt::Write;

use shared::domain::qr;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::outline::{DrawSettings, OutlineGlyphCollection, OutlinePen};
use skrifa::{FontRef, GlyphId, MetadataProvider, charmap::Charmap};

use crate::raster::{Bitmap, Path};

/// Noto Sans CJK SC Bold cut down to GB 2312 and punctuation (see assets/fonts/README.md).
/// Bold, and only one weight: the poster is read from a distance and often photocopied.
static FONT: &[u8] = include_bytes!("../assets/fonts/NotoSansCJKsc-Bold-subset.otf");
/// The embedded font first, then the usual Chinese system fonts for SVG viewers.
const FONT_FAMILIES: &str = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif";

/// Print resolution. The PNG exists to be printed, so it is drawn at 300 dpi in black and
/// white, as a laser printer would: 1 bit per pixel at 300 dpi is a smaller file than 8-bit
/// grey at 150 dpi, with sharper text, and a QR module of a venue URL is about 27 px.
const PNG_DPI: f32 = 300.0;

// Page geometry, in millimetres (the SVG's user unit).
const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 15.0;
/// The QR symbol with its quiet zone, centred horizontally.
const QR_SIDE: f32 = 140.0;
const QR_TOP: f32 = 92.0;
/// Horizontal rules under the title and above the footer.
const TOP_RULE_Y: f32 = 36.0;
const FOOTER_RULE_Y: f32 = 283.0;
/// Line pitch as a multiple of the font size.
const LINE_HEIGHT: f32 = 1.3;
/// Noto CJK's ideographs span 0.88 em above the baseline and 0.12 em below, so the
/// baseline sits this far below the middle of a line.
const BASELINE_BELOW_MIDDLE: f32 = 0.38;

/// Where the venue's own text goes: the name between the title and the QR code, the
/// category and address between the instruction and the footer.
const NAME_BAND: Band = Band {
    top: 42.0,
    height: 46.0,
    largest: 16.0,
    smallest: 8.0,
};
const CATEGORY_BAND: Band = Band {
    top: 254.0,
    height: 7.0,
    largest: 5.0,
    smallest: 3.0,
};
const ADDRESS_BAND: Band = Band {
    top: 262.0,
    height: 17.0,
    largest: 5.0,
    smallest: 3.0,
};

/// No spaces around the middle dot: in a CJK font it is already a full-width character.
const TITLE: &str = "河北健康码·场所码";
const INSTRUCTION: &str = "请使用微信扫一扫，扫码登记后出示健康码";
const FOOTER: &str = "本场所码仅签发给本场所使用，伪造的场所码无法完成登记";

/// The venue's own words on the poster, in Chinese.
#[derive(Debug, Clone, Copy)]
pub struct PosterText<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub category_label: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    #[error("the venue {0} is too long to fit on the poster")]
    TooLong(&'static str),
    #[error("the venue code cannot be drawn")]
    Qr(#[from] qr::QrError),
    #[error("the embedded font cannot be read")]
    Font(#[source] skrifa::raw::ReadError),
    #[error("a glyph of the embedded font cannot be drawn")]
    Glyph,
    #[error("the poster PNG cannot be encoded")]
    Png(#[from] png::EncodingError),
}

/// Where the title, the instruction and the footer go: one line each, fixed sizes.
const TITLE_BASELINE: f32 = 28.0;
const TITLE_SIZE: f32 = 12.0;
const INSTRUCTION_BASELINE: f32 = 247.0;
const INSTRUCTION_SIZE: f32 = 8.0;
const FOOTER_BASELINE: f32 = 290.0;
const FOOTER_SIZE: f32 = 3.6;
/// Thickness of the two horizontal rules.
const RULE_WIDTH: f32 = 0.5;

/// A page: its size and margin, where the QR symbol goes (centred horizontally) and the
/// two horizontal rules, all in millimetres.
struct Page {
    width: f32,
    height: f32,
    margin: f32,
    qr_side: f32,
    qr_top: f32,
    rules: [f32; 2],
}

impl Page {
    fn text_width(&self) -> f32 {
        self.width - 2.0 * self.margin
    }

    fn centre_x(&self) -> f32 {
        self.width / 2.0
    }
}

const A4: Page = Page {
    width: PAGE_W,
    height: PAGE_H,
    margin: MARGIN,
    qr_side: QR_SIDE,
    qr_top: QR_TOP,
    rules: [TOP_RULE_Y, FOOTER_RULE_Y],
};

/// The paper code's card: A6 (105 × 148 mm), a quarter of an A4 sheet.
const CARD: Page = Page {
    width: 105.0,
    height: 148.0,
    margin: 8.0,
    qr_side: 89.0,
    qr_top: 30.0,
    rules: [17.0, 130.0],
};
const CARD_TITLE: &str = "河北健康码·纸质码";
const CARD_FOOTER: [&str; 2] = [
    "扫码核验实时健康状态，请与身份证一同出示",
    "重新打印后，此前打印的纸质码即作废",
];
const CARD_NAME_BAND: Band = Band {
    top: 19.0,
    height: 11.0,
    largest: 7.0,
    smallest: 4.0,
};
const CARD_EXPIRY_BAND: Band = Band {
    top: 120.0,
    height: 9.0,
    largest: 5.0,
    smallest: 3.0,
};

/// A page laid out, in millimetres: its text blocks by id, and the QR symbol.
struct Layout {
    page: &'static Page,
    blocks: Vec<(&'static str, Block)>,
    symbol: qr::Modules,
    /// Side of one QR module, and the symbol's top-left corner (inside its quiet zone).
    module: f32,
    qr_left: f32,
    qr_top: f32,
}

impl Layout {
    fn new(page: &'static Page, qr_content: &str, blocks: Vec<(&'static str, Block)>) -> Result<Self, PosterError> {
        // Printed codes get scuffed, creased and photographed at an angle: level Q survives
        // about a quarter of the codewords damaged, and a 120-character venue URL still fits
        // in version 9 (53 modules, 2.3 mm each on the poster); a paper code's token of
        // about 400 characters takes version 18 (89 modules, 0.9 mm each on the card).
        let symbol = qr::modules(qr_content, qr::EcLevel::Q)?;
        let module = page.qr_side / (symbol.width() + 2 * qr::QUIET_ZONE) as f32;
        Ok(Self {
            page,
            blocks,
            qr_left: (page.width - page.qr_side) / 2.0 + module * qr::QUIET_ZONE as f32,
            qr_top: page.qr_top + module * qr::QUIET_ZONE as f32,
            module,
            symbol,
        })
    }

    /// The venue poster: the title, instruction and footer, then the venue's own text.
    fn poster(font: &Metrics, text: &PosterText, qr_content: &str) -> Result<Self, PosterError> {
        let name = Block::fit(font, &clean(text.name), &NAME_BAND, &A4).ok_or(PosterError::TooLong("name"))?;
        let category = format!("场所类型：{}", clean(text.category_label));
        let category = Block::fit(font, &category, &CATEGORY_BAND, &A4).ok_or(PosterError::TooLong("category"))?;
        let address = format!("地址：{}", clean(text.address));
        let address = Block::fit(font, &address, &ADDRESS_BAND, &A4).ok_or(PosterError::TooLong("address"))?;
        let blocks = vec![
            ("title", Block::line(TITLE, TITLE_SIZE, TITLE_BASELINE, &A4)),
            (
                "instruction",
                Block::line(INSTRUCTION, INSTRUCTION_SIZE, INSTRUCTION_BASELINE, &A4),
            ),
            ("footer", Block::line(FOOTER, FOOTER_SIZE, FOOTER_BASELINE, &A4)),
            ("name", name),
            ("category", category),
            ("address", address),
        ];
        Self::new(&A4, qr_content, blocks)
    }

    /// The paper code's card: the title, the masked name, the QR code, the expiry and
    /// what the card is for.
    fn card(font: &Metrics, text: &CardText, qr_content: &str) -> Result<Self, PosterError> {
        let name = format!("姓名：{}", clean(text.name_masked));
        let name = Block::fit(font, &name, &CARD_NAME_BAND, &CARD).ok_or(PosterError::TooLong("name"))?;
        let expiry = format!("有效期至 {}", clean(text.expires));
        let expiry = Block::fit(font, &expiry, &CARD_EXPIRY_BAND, &CARD).ok_or(PosterError::TooLong("expiry"))?;
        let blocks = vec![
            ("title", Block::line(CARD_TITLE, 7.0, 13.0, &CARD)),
            ("name", name),
            ("expiry", expiry),
            ("footer", Block::line(CARD_FOOTER[0], 3.6, 137.0, &CARD)),
            ("footer-revoked", Block::line(CARD_FOOTER[1], 3.6, 142.5, &CARD)),
        ];
        Self::new(&CARD, qr_content, blocks)
    }
}

/// What the paper code's card prints besides its QR code, in Chinese.
#[derive(Debug, Clone, Copy)]
pub struct CardText<'a> {
    /// The holder's masked name (`张*丰`): the card may be lost.
    pub name_masked: &'a str,
    /// The expiry as printed, in Shanghai time: `2026-12-26 10:00`.
    pub expires: &'a str,
}

/// The poster as a standalone A4 SVG document (sized in millimetres, so it prints at A4).
pub fn poster_svg(text: &PosterText, qr_content: &str) -> Result<String, PosterError> {
    Ok(draw_svg(&Layout::poster(&Metrics::new()?, text, qr_content)?))
}

/// The poster as a black-and-white PNG at [`PNG_DPI`] (2480 × 3508 px for A4): the same
/// layout as [`poster_svg`], its text filled from the embedded font's glyph outlines.
pub fn poster_png(text: &PosterText, qr_content: &str) -> Result<Vec<u8>, PosterError> {
    let font = Metrics::new()?;
    draw_png(&font, &Layout::poster(&font, text, qr_content)?)
}

/// The paper code's card as a standalone A6 SVG document.
pub fn card_svg(text: &CardText, qr_content: &str) -> Result<String, PosterError> {
    Ok(draw_svg(&Layout::card(&Metrics::new()?, text, qr_content)?))
}

/// The paper code's card as a black-and-white PNG at [`PNG_DPI`] (1240 × 1748 px for A6).
pub fn card_png(text: &CardText, qr_content: &str) -> Result<Vec<u8>, PosterError> {
    let font = Metrics::new()?;
    draw_png(&font, &Layout::card(&font, text, qr_content)?)
}

fn draw_svg(layout: &Layout) -> String {
    let page = layout.page;
    let mut svg = String::with_capacity(16 * 1024);
    // Writing to a String cannot fail.
    let _ = write!(
        svg,
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" "#,
            r#"viewBox="0 0 {w} {h}" font-family="{families}" font-weight="bold" "#,
            r##"text-anchor="middle" fill="#000">"##,
            r##"<rect width="{w}" height="{h}" fill="#fff"/>"##,
            r##"<path d="M{m} {top_rule}H{r}M{m} {footer_rule}H{r}" stroke="#000" "##,
            r#"stroke-width="{rule}"/>"#,
            r##"<path transform="translate({qx} {qy}) scale({module})" "##,
            r##"shape-rendering="crispEdges" fill="none" stroke="#000" d="{qr}"/>"##,
        ),
        w = page.width,
        h = page.height,
        families = FONT_FAMILIES,
        m = page.margin,
        top_rule = page.rules[0],
        footer_rule = page.rules[1],
        r = page.width - page.margin,
        rule = RULE_WIDTH,
        qx = layout.qr_left,
        qy = layout.qr_top,
        module = layout.module,
        qr = layout.symbol.path_data(),
    );
    for (id, block) in &layout.blocks {
        block.write_svg(&mut svg, id);
    }
    svg.push_str("</svg>");
    svg
}

/// A layout drawn in black and white at [`PNG_DPI`], its text filled from the embedded
/// font's glyph outlines.
fn draw_png(font: &Metrics, layout: &Layout) -> Result<Vec<u8>, PosterError> {
    let page = layout.page;
    let px_per_mm = PNG_DPI / 25.4;
    let width = (page.width * px_per_mm).round() as u32;
    let height = (page.height * px_per_mm).round() as u32;
    let px = |mm: f32| mm * px_per_mm;

    // The rules, centred on their lines as the SVG strokes them.
    let mut bitmap = Bitmap::white(width, height);
    for y in page.rules {
        bitmap.fill_rect(
            px(page.margin),
            px(y - RULE_WIDTH / 2.0),
            px(page.width - page.margin),
            px(y + RULE_WIDTH / 2.0),
        );
    }

    // The QR symbol, one rectangle per run of dark modules.
    for (row, start, run) in layout.symbol.dark_runs() {
        let cell = |n: usize| n as f32 * layout.module;
        let (left, top) = (layout.qr_left + cell(start), layout.qr_top + cell(row));
        bitmap.fill_rect(px(left), px(top), px(left + cell(run)), px(top + layout.module));
    }

    // The text: every line centred, every glyph's outline at its advance.
    let mut glyphs = Path::default();
    for (_, block) in &layout.blocks {
        block.outline(font, px_per_mm, &mut glyphs)?;
    }
    bitmap.fill_path(&glyphs);

    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, bitmap.width(), bitmap.height());
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    // High compresses this 1-bit page about 10% better than Balanced but takes 40% longer.
    encoder.set_compression(png::Compression::Balanced);
    // Recorded resolution, so that printing the PNG as it is gives an A4 page.
    let per_metre = (PNG_DPI / 0.0254).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: per_metre,
        yppu: per_metre,
        unit: png::Unit::Meter,
    }));
    let mut writer = encoder.write_header()?;
    writer.write_image_data(bitmap.rows())?;
    writer.finish()?;
    Ok(png)
}

/// Draws glyph outlines into a path on the page: font units scaled to pixels at
/// `scale`, the y axis turned down, the origin at a glyph's point on the baseline.
struct GlyphPen<'a> {
    path: &'a mut Path,
    x: f32,
    baseline: f32,
    scale: f32,
}

impl GlyphPen<'_> {
    fn at(&self, x: f32, y: f32) -> (f32, f32) {
        (self.x + x * self.scale, self.baseline - y * self.scale)
    }
}

impl OutlinePen for GlyphPen<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.path.move_to(x, y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.path.line_to(x, y);
    }

    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        let (cx0, cy0) = self.at(cx0, cy0);
        let (x, y) = self.at(x, y);
        self.path.quad_to(cx0, cy0, x, y);
    }

    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        let (cx0, cy0) = self.at(cx0, cy0);
        let (cx1, cy1) = self.at(cx1, cy1);
        let (x, y) = self.at(x, y);
        self.path.cubic_to(cx0, cy0, cx1, cy1, x, y);
    }

    fn close(&mut self) {
        self.path.close();
    }
}

/// One line of text, without surrounding whitespace; control characters, which XML
/// cannot carry, become spaces.
fn clean(text: &str) -> String {
    let spaced: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes text for SVG character data and attribute values.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// Horizontal advances of the embedded font, in ems, and its glyph outlines.
struct Metrics<'a> {
    charmap: Charmap<'a>,
    glyphs: GlyphMetrics<'a>,
    outlines: OutlineGlyphCollection<'a>,
    units_per_em: f32,
}

impl Metrics<'static> {
    fn new() -> Result<Self, PosterError> {
        let font = FontRef::new(FONT).map_err(PosterError::Font)?;
        Ok(Self {
            charmap: font.charmap(),
            glyphs: font.glyph_metrics(Size::unscaled(), LocationRef::default()),
            outlines: font.outline_glyphs(),
            units_per_em: f32::from(font.metrics(Size::unscaled(), LocationRef::default()).units_per_em),
        })
    }
}

impl Metrics<'_> {
    /// A character the font lacks is drawn as the font's "missing glyph" box.
    fn glyph(&self, c: char) -> GlyphId {
        self.charmap.map(c).unwrap_or(GlyphId::NOTDEF)
    }

    fn advance(&self, c: char) -> f32 {
        self.glyphs
            .advance_width(self.glyph(c))
            .map_or(1.0, |width| width / self.units_per_em)
    }
}

/// Characters that must not begin a line: they stay with the character before them.
const NO_LINE_START: &str = "，。、；：？！）》」』】〕〉”’…·,.;:?!)]}%";
/// Characters that must not end a line: they go with the character after them.
const NO_LINE_END: &str = "（《「『【〔〈“‘([{";

/// Characters with their advances in ems.
type Run = Vec<(char, f32)>;

/// Runs kept on one line: a CJK character with its punctuation, or a Latin word.
fn units(text: &str, font: &Metrics) -> Vec<Run> {
    let mut units: Vec<Run> = Vec::new();
    for c in text.chars() {
        let advance = font.advance(c);
        match units.last_mut() {
            Some(unit) if joins(unit, c) => unit.push((c, advance)),
            _ => units.push(vec![(c, advance)]),
        }
    }
    units
}

fn joins(unit: &Run, next: char) -> bool {
    unit.last().is_some_and(|&(prev, _)| {
        (prev.is_ascii_alphanumeric() && next.is_ascii_alphanumeric())
            || NO_LINE_START.contains(next)
            || NO_LINE_END.contains(prev)
    })
}

fn width(chars: &[(char, f32)]) -> f32 {
    chars.iter().map(|&(_, advance)| advance).sum()
}

/// Breaks units into lines at most `max` ems wide; a unit wider than a line (a long
/// Latin word) is broken between its characters.
fn wrap(units: &[Run], max: f32) -> Vec<Run> {
    let mut lines = Vec::new();
    let mut line = Run::new();
    for unit in units {
        let pieces: Vec<&[(char, f32)]> = if width(unit) > max {
            unit.chunks(1).collect()
        } else {
            vec![unit]
        };
        for piece in pieces {
            if !line.is_empty() && width(&line) + width(piece) > max {
                lines.push(trim_end(std::mem::take(&mut line)));
            }
            if line.is_empty() && piece.iter().all(|&(c, _)| c == ' ') {
                continue;
            }
            line.extend_from_slice(piece);
        }
    }
    if !line.is_empty() {
        lines.push(trim_end(line));
    }
    lines
}

fn trim_end(mut line: Run) -> Run {
    while line.last().is_some_and(|&(c, _)| c == ' ') {
        line.pop();
    }
    line
}

/// A horizontal band of the page for a text, and the range of font sizes it may take.
struct Band {
    top: f32,
    height: f32,
    largest: f32,
    smallest: f32,
}

/// Centred lines of one size, filling a band of the page.
struct Block {
    size: f32,
    /// Where the lines are centred.
    centre_x: f32,
    /// Baseline of the first line.
    top_baseline: f32,
    lines: Vec<String>,
}

impl Block {
    /// The text at the largest size of the band, in 0.5 mm steps, at which it wraps into
    /// the text width and the band's height, centred vertically in the band, with lines
    /// of even length; `None` if it does not fit even at the band's smallest size.
    fn fit(font: &Metrics, text: &str, band: &Band, page: &Page) -> Option<Self> {
        let units = units(text, font);
        let mut size = band.largest;
        while size >= band.smallest {
            let max = page.text_width() / size;
            let lines = wrap(&units, max);
            let pitch = LINE_HEIGHT * size;
            if lines.len() as f32 * pitch <= band.height {
                let lines = balance(&units, lines, max);
                let used = lines.len() as f32 * pitch;
                let first_middle = band.top + (band.height - used) / 2.0 + pitch / 2.0;
                return Some(Self {
                    size,
                    centre_x: page.centre_x(),
                    top_baseline: first_middle + BASELINE_BELOW_MIDDLE * size,
                    lines: lines
                        .iter()
                        .map(|line| line.iter().map(|&(c, _)| c).collect())
                        .collect(),
                });
            }
            size -= 0.5;
        }
        None
    }

    /// One line at a fixed size and baseline.
    fn line(text: &str, size: f32, baseline: f32, page: &Page) -> Self {
        Self {
            size,
            centre_x: page.centre_x(),
            top_baseline: baseline,
            lines: vec![text.to_owned()],
        }
    }

    fn baseline(&self, line: usize) -> f32 {
        self.top_baseline + line as f32 * LINE_HEIGHT * self.size
    }

    /// The outlines of the block's glyphs, in pixels at `px_per_mm`, each line centred
    /// on the page as the SVG's `text-anchor="middle"` centres it.
    fn outline(&self, font: &Metrics, px_per_mm: f32, path: &mut Path) -> Result<(), PosterError> {
        let settings = || DrawSettings::unhinted(Size::unscaled(), LocationRef::default());
        let size = self.size * px_per_mm;
        for (i, line) in self.lines.iter().enumerate() {
            let width: f32 = line.chars().map(|c| font.advance(c)).sum::<f32>() * size;
            let mut pen = GlyphPen {
                path: &mut *path,
                x: self.centre_x * px_per_mm - width / 2.0,
                baseline: self.baseline(i) * px_per_mm,
                scale: size / font.units_per_em,
            };
            for c in line.chars() {
                if let Some(glyph) = font.outlines.get(font.glyph(c)) {
                    glyph.draw(settings(), &mut pen).map_err(|_| PosterError::Glyph)?;
                }
                pen.x += font.advance(c) * size;
            }
        }
        Ok(())
    }

    fn write_svg(&self, svg: &mut String, id: &str) {
        let _ = write!(svg, r#"<text id="{id}" font-size="{}">"#, self.size);
        for (i, line) in self.lines.iter().enumerate() {
            let y = self.baseline(i);
            let _ = write!(svg, r#"<tspan x="{}" y="{y:.2}">"#, self.centre_x);
            escape(line, svg);
            svg.push_str("</tspan>");
        }
        svg.push_str("</text>");
    }
}

/// Rewraps `lines` to the narrowest width that keeps their number, so that a name on two
/// lines is split near its middle rather than leaving a short last line.
fn balance(units: &[Run], lines: Vec<Run>, max: f32) -> Vec<Run> {
    if lines.len() < 2 {
        return lines;
    }
    let total: f32 = lines.iter().map(|line| width(line)).sum();
    let mut target = total / lines.len() as f32;
    while target < max {
        let candidate = wrap(units, target);
        if candidate.len() == lines.len() {
            return candidate;
        }
        target += 0.25;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    use std::sync::Arc;

    use resvg::usvg::{self, Node, Tree, fontdb};

    /// SVG viewers set the poster's text in a font of the family it names; here, resvg with
    /// the embedded font and nothing from the system.
    fn render_options() -> usvg::Options<'static> {
        let mut fonts = fontdb::Database::new();
        fonts.load_font_source(fontdb::Source::Binary(Arc::new(FONT)));
        fonts.set_sans_serif_family("Noto Sans CJK SC");
        usvg::Options {
            fontdb: Arc::new(fonts),
            ..usvg::Options::default()
        }
    }

    /// The SVG poster as resvg draws it at `px_per_mm`.
    fn render_svg(svg: &str, px_per_mm: f32) -> resvg::tiny_skia::Pixmap {
        let tree = Tree::from_str(svg, &render_options()).unwrap();
        let scale = px_per_mm * PAGE_W / tree.size().width();
        let width = (PAGE_W * px_per_mm).round() as u32;
        let height = (PAGE_H * px_per_mm).round() as u32;
        let mut pixmap = resvg::tiny_skia::Pixmap::new(width, height).unwrap();
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        pixmap
    }

    const VENUE_URL: &str = "https://hc.example.gov.cn/v?c=\
        AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_QA";
    const NAME: &str = "石家庄市长安区建设北大街社区卫生服务中心";

    fn text(name: &str) -> PosterText<'_> {
        PosterText {
            name,
            address: "河北省石家庄市长安区建设北大街66号",
            category_label: "医疗卫生机构",
        }
    }

    fn qr_texts(width: u32, height: u32, grey: impl Fn(u32, u32) -> u8) -> Vec<String> {
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            grey(x as u32, y as u32)
        });
        image
            .detect_grids()
            .iter()
            .map(|grid| grid.decode().expect("the QR decodes").1)
            .collect()
    }

    /// A PNG made by `poster_png`, as 8-bit grey pixels.
    fn decode_png(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let source = reader.info();
        assert_eq!(
            (source.color_type, source.bit_depth),
            (png::ColorType::Grayscale, png::BitDepth::One)
        );
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn dark_pixels(png: &[u8], top_mm: f32, bottom_mm: f32) -> usize {
        let (width, height, grey) = decode_png(png);
        let px_per_mm = height as f32 / PAGE_H;
        let rows = (top_mm * px_per_mm) as usize..(bottom_mm * px_per_mm) as usize;
        grey[rows.start * width as usize..rows.end * width as usize]
            .iter()
            .filter(|&&g| g < 128)
            .count()
    }

    /// The drawn extent of a text element, in millimetres on the page.
    fn text_box(tree: &Tree, id: &str) -> usvg::Rect {
        let px_per_mm = tree.size().width() / PAGE_W;
        match tree.node_by_id(id) {
            Some(Node::Text(text)) => text
                .abs_bounding_box()
                .transform(usvg::Transform::from_scale(1.0 / px_per_mm, 1.0 / px_per_mm))
                .unwrap(),
            _ => panic!("no text {id}"),
        }
    }

    #[test]
    fn svg_poster_qr_decodes_to_the_venue_code() {
        let started = Instant::now();
        let svg = poster_svg(&text(NAME), VENUE_URL).unwrap();
        println!("poster SVG: {} bytes in {:?}", svg.len(), started.elapsed());

        // About 150 dpi, as a phone photographing a print might resolve it.
        let pixmap = render_svg(&svg, 6.0);
        let decoded = qr_texts(pixmap.width(), pixmap.height(), |x, y| {
            pixmap.pixel(x, y).map_or(255, |p| p.green())
        });
        assert_eq!(decoded, [VENUE_URL]);
    }

    #[test]
    fn png_poster_qr_decodes_to_the_venue_code() {
        let started = Instant::now();
        let png = poster_png(&text(NAME), VENUE_URL).unwrap();
        println!("poster PNG: {} bytes in {:?}", png.len(), started.elapsed());

        let (width, height, grey) = decode_png(&png);
        assert_eq!((width, height), (2480, 3508));
        let decoded = qr_texts(width, height, |x, y| grey[(y * width + x) as usize]);
        assert_eq!(decoded, [VENUE_URL]);
    }

    #[test]
    fn png_poster_draws_the_name() {
        let with_name = poster_png(&text(NAME), VENUE_URL).unwrap();
        let without_name = poster_png(&text(""), VENUE_URL).unwrap();
        let (top, bottom) = (NAME_BAND.top, NAME_BAND.top + NAME_BAND.height);
        assert_eq!(dark_pixels(&without_name, top, bottom), 0);
        // Twenty bold ideographs 16 mm high cover well over a hundred thousand pixels.
        assert!(dark_pixels(&with_name, top, bottom) > 100_000);
    }

    #[test]
    fn the_font_has_every_character_the_poster_needs() {
        let font = FontRef::new(FONT).unwrap();
        let charmap = font.charmap();
        let card = [
            CARD_TITLE,
            CARD_FOOTER[0],
            CARD_FOOTER[1],
            "姓名：张*丰有效期至 2026-12-26 10:00",
        ];
        let fixed = [TITLE, INSTRUCTION, FOOTER, "场所类型：地址：", NAME]
            .into_iter()
            .chain(card);
        let categories = "居民小区 单位办公 检查站点 公共服务 交通场站 商超市场 学校 医疗卫生机构 其他";
        for c in fixed
            .collect::<String>()
            .chars()
            .chain(categories.chars())
            .filter(|c| *c != ' ')
        {
            assert!(charmap.map(c).is_some(), "no glyph for {c}");
        }
    }

    /// The PNG draws the layout of the SVG: resvg's rendering of the SVG (which shapes the
    /// text with the same font), thresholded at half grey, and our PNG differ only at the
    /// edges of shapes.
    #[test]
    fn png_poster_matches_the_svg_poster() {
        let poster = text(NAME);
        let png = poster_png(&poster, VENUE_URL).unwrap();
        let (width, height, ours) = decode_png(&png);
        let theirs = render_svg(&poster_svg(&poster, VENUE_URL).unwrap(), PNG_DPI / 25.4);
        assert_eq!((theirs.width(), theirs.height()), (width, height));
        let theirs: Vec<bool> = theirs.pixels().iter().map(|p| p.green() < 128).collect();
        let ours: Vec<bool> = ours.iter().map(|&g| g < 128).collect();
        let dark = theirs.iter().filter(|&&d| d).count();
        let differing = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
        println!("{differing} of {dark} dark pixels differ");
        assert!(dark > 1_000_000, "{dark}");
        // About 0.6%: edges, and a rule whose edge falls on a half pixel, which resvg's
        // half-covered pixel (grey 127.5) makes black and a centre test does not.
        assert!(differing * 100 < dark, "{differing} of {dark} dark pixels differ");
        // Each band of text is drawn where the SVG puts it.
        for band in [NAME_BAND, CATEGORY_BAND, ADDRESS_BAND] {
            let rows = |px: &[bool]| {
                let row_px = height as f32 / PAGE_H;
                let from = (band.top * row_px) as usize * width as usize;
                let to = ((band.top + band.height) * row_px) as usize * width as usize;
                px[from..to].iter().filter(|&&d| d).count()
            };
            let (a, b) = (rows(&ours), rows(&theirs));
            assert!(
                b > 0 && a.abs_diff(b) * 20 < b,
                "band at {} mm: {a} and {b} dark pixels",
                band.top
            );
        }
    }

    #[test]
    fn long_texts_stay_inside_the_page_and_off_the_qr_code() {
        let name = "中国石油天然气股份有限公司河北石家庄销售分公司长安区建设北大街加油站便利店A";
        let name = format!("{name}{}", "东".repeat(50 - name.chars().count()));
        assert_eq!(name.chars().count(), 50);
        let address = "河北省石家庄市长安区建设北大街与和平东路交叉口东北角中国石油加油站院内便利店二层东侧".repeat(2);
        let poster = PosterText {
            name: &name,
            address: &address,
            category_label: "商超市场",
        };
        let tree = Tree::from_str(&poster_svg(&poster, VENUE_URL).unwrap(), &render_options()).unwrap();

        for id in ["name", "category", "address"] {
            let bounds = text_box(&tree, id);
            assert!(
                bounds.left() >= MARGIN && bounds.right() <= PAGE_W - MARGIN,
                "{id}: {bounds:?}"
            );
            let clear_of_qr = bounds.bottom() < QR_TOP || bounds.top() > QR_TOP + QR_SIDE;
            assert!(clear_of_qr, "{id}: {bounds:?}");
        }
        assert!(text_box(&tree, "name").bottom() < QR_TOP);
        assert!(text_box(&tree, "address").bottom() < FOOTER_RULE_Y);
    }

    #[test]
    fn user_text_is_escaped() {
        let name = r#"<b>&"乐'园"</b>"#;
        let poster = PosterText {
            name,
            address: "A & B <路>",
            category_label: "其他",
        };
        let svg = poster_svg(&poster, VENUE_URL).unwrap();
        assert!(!svg.contains("<b>"));
        let tree = Tree::from_str(&svg, &render_options()).unwrap();
        match tree.node_by_id("name") {
            Some(Node::Text(text)) => {
                let drawn: String = text.chunks().iter().map(|chunk| chunk.text()).collect();
                assert_eq!(drawn, name);
            }
            _ => panic!("no name text"),
        }
        assert!(poster_png(&poster, VENUE_URL).is_ok());
    }

    #[test]
    fn control_characters_do_not_break_the_svg() {
        let poster = PosterText {
            name: "社区\u{0}服务\n中心",
            ..text(NAME)
        };
        let svg = poster_svg(&poster, VENUE_URL).unwrap();
        assert!(svg.contains("社区 服务 中心"));
        assert!(Tree::from_str(&svg, &render_options()).is_ok());
    }

    #[test]
    fn a_short_name_is_one_large_line_and_a_longer_one_is_balanced() {
        let font = Metrics::new().unwrap();
        let short = Block::fit(&font, "和平社区", &NAME_BAND, &A4).unwrap();
        assert_eq!((short.size, short.lines.len()), (16.0, 1));
        let long = Block::fit(&font, NAME, &NAME_BAND, &A4).unwrap();
        assert_eq!((long.size, long.lines.len()), (16.0, 2));
        assert_eq!(long.lines, ["石家庄市长安区建设北", "大街社区卫生服务中心"]);
    }

    fn wrapped(text: &str, max: f32) -> Vec<String> {
        let font = Metrics::new().unwrap();
        wrap(&units(text, &font), max)
            .iter()
            .map(|line| line.iter().map(|&(c, _)| c).collect())
            .collect()
    }

    #[test]
    fn a_line_does_not_start_with_closing_punctuation() {
        assert_eq!(wrapped("一二三，四", 3.0), ["一二", "三，四"]);
    }

    #[test]
    fn a_latin_word_is_not_split_unless_wider_than_a_line() {
        assert_eq!(wrapped("和平 Starbucks", 6.0), ["和平", "Starbucks"]);
        assert_eq!(wrapped("Starbucks", 3.0).concat(), "Starbucks");
    }

    #[test]
    fn a_name_that_cannot_fit_is_an_error() {
        let name = "很".repeat(200);
        assert!(matches!(
            poster_svg(&text(&name), VENUE_URL),
            Err(PosterError::TooLong("name"))
        ));
    }

    /// A paper code's QR content: a JWS of about the size the code function signs.
    fn paper_code() -> String {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let part =
            |n: usize, seed: usize| -> String { (0..n).map(|i| alphabet[(i * 7 + seed) % 64] as char).collect() };
        format!("HBHC:1:{}.{}.{}", part(102, 1), part(190, 2), part(86, 3))
    }

    const CARD_TEXT: CardText<'static> = CardText {
        name_masked: "张*丰",
        expires: "2026-12-26 10:00",
    };

    #[test]
    fn card_qr_decodes_from_the_png_and_the_svg() {
        let content = paper_code();
        let started = Instant::now();
        let png = card_png(&CARD_TEXT, &content).unwrap();
        println!("card PNG: {} bytes in {:?}", png.len(), started.elapsed());
        let (width, height, grey) = decode_png(&png);
        assert_eq!((width, height), (1240, 1748));
        assert_eq!(
            qr_texts(width, height, |x, y| grey[(y * width + x) as usize]),
            std::slice::from_ref(&content)
        );

        let svg = card_svg(&CARD_TEXT, &content).unwrap();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="105mm" height="148mm""#));
        let tree = Tree::from_str(&svg, &render_options()).unwrap();
        let px_per_mm = 8.0;
        let scale = px_per_mm * CARD.width / tree.size().width();
        let mut pixmap =
            resvg::tiny_skia::Pixmap::new((CARD.width * px_per_mm) as u32, (CARD.height * px_per_mm) as u32).unwrap();
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        let decoded = qr_texts(pixmap.width(), pixmap.height(), |x, y| {
            pixmap.pixel(x, y).map_or(255, |p| p.green())
        });
        assert_eq!(decoded, [content]);
    }

    #[test]
    fn the_card_prints_the_masked_name_and_the_expiry_inside_the_page_and_off_the_qr_code() {
        let tree = Tree::from_str(&card_svg(&CARD_TEXT, &paper_code()).unwrap(), &render_options()).unwrap();
        let px_per_mm = tree.size().width() / CARD.width;
        for id in ["title", "name", "expiry", "footer", "footer-revoked"] {
            let bounds = match tree.node_by_id(id) {
                Some(Node::Text(text)) => text
                    .abs_bounding_box()
                    .transform(usvg::Transform::from_scale(1.0 / px_per_mm, 1.0 / px_per_mm))
                    .unwrap(),
                _ => panic!("no text {id}"),
            };
            assert!(
                bounds.left() >= CARD.margin && bounds.right() <= CARD.width - CARD.margin,
                "{id}: {bounds:?}"
            );
            let clear_of_qr = bounds.bottom() < CARD.qr_top || bounds.top() > CARD.qr_top + CARD.qr_side;
            assert!(clear_of_qr && bounds.bottom() < CARD.height, "{id}: {bounds:?}");
        }
        let svg = card_svg(&CARD_TEXT, &paper_code()).unwrap();
        assert!(svg.contains("姓名：张*丰") && svg.contains("有效期至 2026-12-26 10:00"));
    }
}
