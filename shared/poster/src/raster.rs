//! A black-and-white rasteriser for the PNG poster: rectangles and filled outlines
//! (lines, quadratic and cubic Béziers, non-zero winding) drawn straight into the rows
//! of a 1-bit PNG.
//!
//! The poster is printed on laser printers and photocopied, so it is drawn in pure black
//! and white: a pixel is black when its centre lies inside a shape, which is what an
//! anti-aliased renderer's output thresholded at half grey gives, without the 35 MB
//! colour canvas that an A4 page at 300 dpi would need (the bitmap here is 1.1 MB).

/// A page of 1-bit pixels in PNG's row layout: 8 pixels a byte, the most significant bit
/// first, 1 for white.
pub struct Bitmap {
    width: usize,
    height: usize,
    stride: usize,
    rows: Vec<u8>,
}

impl Bitmap {
    /// A white page.
    pub fn white(width: u32, height: u32) -> Self {
        let (width, height) = (width as usize, height as usize);
        let stride = width.div_ceil(8);
        Self {
            width,
            height,
            stride,
            rows: vec![0xFF; stride * height],
        }
    }

    pub fn width(&self) -> u32 {
        self.width as u32
    }

    pub fn height(&self) -> u32 {
        self.height as u32
    }

    /// The rows as a 1-bit grey PNG stores them.
    pub fn rows(&self) -> &[u8] {
        &self.rows
    }

    /// Whether the pixel at column `x`, row `y` is black.
    #[cfg(test)]
    pub fn is_black(&self, x: usize, y: usize) -> bool {
        self.rows[y * self.stride + x / 8] & (0x80 >> (x % 8)) == 0
    }

    /// Blackens the pixels whose centres lie inside the rectangle (in pixels).
    pub fn fill_rect(&mut self, left: f32, top: f32, right: f32, bottom: f32) {
        for y in first_centre(top, self.height)..first_centre(bottom, self.height) {
            self.span(y, left, right);
        }
    }

    /// Blackens the pixels whose centres lie inside the path, by the non-zero rule.
    pub fn fill_path(&mut self, path: &Path) {
        // Each row's crossings: where an edge crosses the row's centre line, and which way.
        let mut crossings: Vec<Vec<(f32, i32)>> = vec![Vec::new(); self.height];
        for &(x0, y0, x1, y1) in &path.edges {
            let (direction, top, bottom) = if y0 < y1 { (1, y0, y1) } else { (-1, y1, y0) };
            let first = first_centre(top, self.height);
            let rows = &mut crossings[first..first_centre(bottom, self.height)];
            for (y, row) in (first..).zip(rows) {
                let centre = y as f32 + 0.5;
                row.push((x0 + (centre - y0) * (x1 - x0) / (y1 - y0), direction));
            }
        }
        for (y, row) in crossings.iter_mut().enumerate() {
            row.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut winding = 0;
            let mut inside_from = 0.0;
            for &(x, direction) in row.iter() {
                let was_inside = winding != 0;
                winding += direction;
                match (was_inside, winding != 0) {
                    (false, true) => inside_from = x,
                    (true, false) => self.span(y, inside_from, x),
                    _ => {}
                }
            }
        }
    }

    /// Blackens the pixels of row `y` whose centres lie in `[left, right)`.
    fn span(&mut self, y: usize, left: f32, right: f32) {
        let row = &mut self.rows[y * self.stride..(y + 1) * self.stride];
        for x in first_centre(left, self.width)..first_centre(right, self.width) {
            row[x / 8] &= !(0x80 >> (x % 8));
        }
    }
}

/// The first pixel index whose centre (`index + 0.5`) is at or past `coordinate`,
/// within `0..=limit`.
fn first_centre(coordinate: f32, limit: usize) -> usize {
    (coordinate - 0.5).ceil().clamp(0.0, limit as f32) as usize
}

/// A shape as closed polygons, curves flattened into short lines, in pixels.
#[derive(Default)]
pub struct Path {
    edges: Vec<(f32, f32, f32, f32)>,
    start: (f32, f32),
    current: (f32, f32),
}

/// Curves are cut into lines about this long, in pixels: at 300 dpi, a tenth of a
/// millimetre, far below what a printer shows.
const FLAT_STEP: f32 = 1.5;

impl Path {
    pub fn move_to(&mut self, x: f32, y: f32) {
        self.close();
        self.start = (x, y);
        self.current = (x, y);
    }

    pub fn line_to(&mut self, x: f32, y: f32) {
        let (x0, y0) = self.current;
        // Horizontal edges cross no row centre line.
        if y0 != y {
            self.edges.push((x0, y0, x, y));
        }
        self.current = (x, y);
    }

    pub fn quad_to(&mut self, cx: f32, cy: f32, x: f32, y: f32) {
        let (x0, y0) = self.current;
        let steps = steps(&[(x0, y0), (cx, cy), (x, y)]);
        for i in 1..=steps {
            let t = i as f32 / steps as f32;
            let u = 1.0 - t;
            self.line_to(
                u * u * x0 + 2.0 * u * t * cx + t * t * x,
                u * u * y0 + 2.0 * u * t * cy + t * t * y,
            );
        }
    }

    pub fn cubic_to(&mut self, c0x: f32, c0y: f32, c1x: f32, c1y: f32, x: f32, y: f32) {
        let (x0, y0) = self.current;
        let steps = steps(&[(x0, y0), (c0x, c0y), (c1x, c1y), (x, y)]);
        for i in 1..=steps {
            let t = i as f32 / steps as f32;
            let u = 1.0 - t;
            let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            self.line_to(a * x0 + b * c0x + c * c1x + d * x, a * y0 + b * c0y + c * c1y + d * y);
        }
    }

    /// Closes the current polygon back to its start.
    pub fn close(&mut self) {
        if self.current != self.start {
            let (x, y) = self.start;
            self.line_to(x, y);
        }
    }

    #[cfg(test)]
    pub fn rect(&mut self, left: f32, top: f32, right: f32, bottom: f32) {
        self.move_to(left, top);
        self.line_to(right, top);
        self.line_to(right, bottom);
        self.line_to(left, bottom);
        self.close();
    }
}

/// How many lines a curve becomes: its control polygon's length over [`FLAT_STEP`].
fn steps(points: &[(f32, f32)]) -> usize {
    let length: f32 = points
        .windows(2)
        .map(|pair| (pair[1].0 - pair[0].0).hypot(pair[1].1 - pair[0].1))
        .sum();
    ((length / FLAT_STEP).ceil() as usize).clamp(1, 256)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn black(bitmap: &Bitmap) -> usize {
        (0..bitmap.height)
            .flat_map(|y| (0..bitmap.width).map(move |x| (x, y)))
            .filter(|&(x, y)| bitmap.is_black(x, y))
            .count()
    }

    #[test]
    fn a_rectangle_covers_the_pixels_whose_centres_it_contains() {
        let mut bitmap = Bitmap::white(20, 10);
        bitmap.fill_rect(2.0, 1.0, 5.0, 3.0);
        assert_eq!(black(&bitmap), 3 * 2);
        assert!(bitmap.is_black(2, 1) && bitmap.is_black(4, 2));
        assert!(!bitmap.is_black(5, 1) && !bitmap.is_black(1, 1) && !bitmap.is_black(2, 3));
        // Half a pixel either way decides by the centre.
        let mut bitmap = Bitmap::white(20, 10);
        bitmap.fill_rect(2.4, 0.6, 4.6, 1.6);
        assert_eq!(black(&bitmap), 3);
        assert!(bitmap.is_black(2, 1) && bitmap.is_black(4, 1) && !bitmap.is_black(5, 1));
    }

    #[test]
    fn a_path_is_filled_by_the_non_zero_rule() {
        // A square with a square hole drawn the other way round, like the counter of 口.
        let mut path = Path::default();
        path.rect(0.0, 0.0, 10.0, 10.0);
        path.move_to(3.0, 3.0);
        path.line_to(3.0, 7.0);
        path.line_to(7.0, 7.0);
        path.line_to(7.0, 3.0);
        path.close();
        let mut bitmap = Bitmap::white(16, 16);
        bitmap.fill_path(&path);
        assert_eq!(black(&bitmap), 100 - 16);
        assert!(!bitmap.is_black(5, 5) && bitmap.is_black(1, 5) && !bitmap.is_black(12, 5));

        // Two overlapping squares drawn the same way round are their union.
        let mut path = Path::default();
        path.rect(0.0, 0.0, 4.0, 4.0);
        path.rect(2.0, 2.0, 6.0, 6.0);
        let mut bitmap = Bitmap::white(8, 8);
        bitmap.fill_path(&path);
        assert_eq!(black(&bitmap), 16 + 16 - 4);
    }

    #[test]
    fn curves_are_filled_close_to_their_true_area() {
        // A disc of radius 40 from four cubic quarter arcs: area π r².
        let (r, cx, cy, k) = (40.0f32, 50.0f32, 50.0f32, 0.552_284_8f32);
        let mut path = Path::default();
        path.move_to(cx + r, cy);
        path.cubic_to(cx + r, cy + k * r, cx + k * r, cy + r, cx, cy + r);
        path.cubic_to(cx - k * r, cy + r, cx - r, cy + k * r, cx - r, cy);
        path.cubic_to(cx - r, cy - k * r, cx - k * r, cy - r, cx, cy - r);
        path.cubic_to(cx + k * r, cy - r, cx + r, cy - k * r, cx + r, cy);
        path.close();
        let mut bitmap = Bitmap::white(100, 100);
        bitmap.fill_path(&path);
        let area = std::f32::consts::PI * r * r;
        let drawn = black(&bitmap) as f32;
        assert!((drawn - area).abs() < area * 0.01, "{drawn} against {area}");

        // A quadratic bump over a base line: area two thirds of its box.
        let mut path = Path::default();
        path.move_to(0.0, 60.0);
        path.quad_to(30.0, -60.0, 60.0, 60.0);
        path.close();
        let mut bitmap = Bitmap::white(64, 64);
        bitmap.fill_path(&path);
        let area = 2.0 / 3.0 * 60.0 * 60.0;
        let drawn = black(&bitmap) as f32;
        assert!((drawn - area).abs() < area * 0.01, "{drawn} against {area}");
    }

    #[test]
    fn shapes_off_the_page_are_clipped() {
        let mut path = Path::default();
        path.rect(-5.0, -5.0, 3.0, 3.0);
        path.rect(30.0, 30.0, 40.0, 40.0);
        let mut bitmap = Bitmap::white(10, 10);
        bitmap.fill_path(&path);
        bitmap.fill_rect(8.0, -3.0, 20.0, 1.0);
        assert_eq!(black(&bitmap), 9 + 2);
        // A width that is not a multiple of 8 leaves the padding bits of each row white.
        assert_eq!(bitmap.rows()[1] & 0x3F, 0x3F);
    }
}
