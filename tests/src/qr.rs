//! Reading QR symbols back with a real decoder: rasterise the SVG with
//! resvg, decode with rqrr.

use resvg::{tiny_skia, usvg};

/// The text of the one QR symbol an SVG shows, rendered `scale` times its size.
pub fn decode_svg(svg: &str, scale: f32) -> String {
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).expect("the SVG parses");
    let size = tree.size().to_int_size().scale_by(scale).expect("a positive size");
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).expect("a pixmap");
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    decode_pixmap(&pixmap)
}

/// The text of the one QR symbol in a PNG image.
pub fn decode_png(png: &[u8]) -> String {
    decode_pixmap(&tiny_skia::Pixmap::decode_png(png).expect("a PNG"))
}

fn decode_pixmap(pixmap: &tiny_skia::Pixmap) -> String {
    let (width, height) = (pixmap.width() as usize, pixmap.height() as usize);
    let pixels = pixmap.pixels();
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        let p = pixels[y * width + x];
        ((u16::from(p.red()) + u16::from(p.green()) + u16::from(p.blue())) / 3) as u8
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR symbol in the image");
    grids[0].decode().expect("the symbol decodes").1
}
