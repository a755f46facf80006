//! `png_edge_color(BYTEA) -> VARCHAR`: the mean colour of a PNG's border.

use wasql_udf::udf;

/// The mean colour of the image's border pixels as `#rrggbb`.
#[udf]
pub fn png_edge_color(png: &[u8]) -> Result<String, String> {
    let [r, g, b] = edge_color(png)?;
    Ok(format!("#{r:02x}{g:02x}{b:02x}"))
}

/// The mean RGB of every pixel in the first and last rows and columns (each
/// counted once), rounded to the nearest integer. Alpha is ignored; grey is
/// r = g = b; palettes, low bit depths and 16-bit channels are normalised
/// to 8-bit first.
pub fn edge_color(png: &[u8]) -> Result<[u8; 3], String> {
    let invalid = |e: png::DecodingError| format!("the input is not a valid PNG image: {e}");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(invalid)?;
    let size = reader
        .output_buffer_size()
        .ok_or("the PNG image is too large to decode")?;
    let mut pixels = vec![0; size];
    let frame = reader.next_frame(&mut pixels).map_err(invalid)?;
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("the PNG palette was not expanded".into()),
    };
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(format!("unexpected bit depth {:?}", frame.bit_depth));
    }
    let (width, height) = (frame.width as usize, frame.height as usize);
    let row = |y: usize| &pixels[y * frame.line_size..][..width * channels];
    let mut sum = [0u64; 3];
    let mut count = 0u64;
    let mut add = |pixel: &[u8]| {
        let rgb = if channels < 3 {
            [pixel[0]; 3]
        } else {
            [pixel[0], pixel[1], pixel[2]]
        };
        for (s, v) in sum.iter_mut().zip(rgb) {
            *s += u64::from(v);
        }
        count += 1;
    };
    for y in 0..height {
        let line = row(y);
        if y == 0 || y == height - 1 {
            line.chunks_exact(channels).for_each(&mut add);
        } else {
            add(&line[..channels]);
            if width > 1 {
                add(&line[(width - 1) * channels..]);
            }
        }
    }
    // Round half up: (2 * sum + count) / (2 * count).
    Ok(sum.map(|s| ((2 * s + count) / (2 * count)) as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a width x height image of `color` type from per-pixel samples.
    fn encode(
        width: u32,
        height: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        palette: Option<Vec<u8>>,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(color);
            encoder.set_depth(depth);
            if let Some(p) = palette {
                encoder.set_palette(p);
            }
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(data).unwrap();
        }
        out
    }

    #[test]
    fn rgb_border_excludes_the_inside() {
        // 3x3: a red border, a blue centre that must not count.
        let mut data = Vec::new();
        for y in 0..3 {
            for x in 0..3 {
                if x == 1 && y == 1 {
                    data.extend([0, 0, 255]);
                } else {
                    data.extend([255, 0, 0]);
                }
            }
        }
        let png = encode(3, 3, png::ColorType::Rgb, png::BitDepth::Eight, None, &data);
        assert_eq!(png_edge_color(&png).unwrap(), "#ff0000");
    }

    #[test]
    fn each_border_pixel_counts_once_and_means_round() {
        // 4x3 RGBA; border = 10 pixels: 9 black and one (10, 20, 255) corner.
        // Means: 1.0, 2.0, 25.5 -> 1, 2, 26 (half rounds up). Alpha ignored.
        let mut data = vec![0u8; 4 * 3 * 4];
        data[..4].copy_from_slice(&[10, 20, 255, 0]);
        // Inside pixels (1,1) and (2,1): white, excluded.
        for x in [1, 2] {
            let at = (4 + x) * 4;
            data[at..at + 4].copy_from_slice(&[255, 255, 255, 255]);
        }
        let png = encode(
            4,
            3,
            png::ColorType::Rgba,
            png::BitDepth::Eight,
            None,
            &data,
        );
        assert_eq!(edge_color(&png).unwrap(), [1, 2, 26]);
        assert_eq!(png_edge_color(&png).unwrap(), "#01021a");
    }

    #[test]
    fn grayscale_palette_and_16_bit() {
        let png = encode(
            2,
            2,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            None,
            &[0, 100, 200, 50],
        );
        // (0 + 100 + 200 + 50) / 4 = 87.5 -> 88.
        assert_eq!(png_edge_color(&png).unwrap(), "#585858");

        // 1-bit greyscale: 0 -> 0, 1 -> 255. Row bytes are padded.
        let png = encode(
            2,
            1,
            png::ColorType::Grayscale,
            png::BitDepth::One,
            None,
            &[0b0100_0000],
        );
        assert_eq!(png_edge_color(&png).unwrap(), "#808080");

        let palette = vec![0, 0, 0, 0, 128, 255];
        let png = encode(
            2,
            1,
            png::ColorType::Indexed,
            png::BitDepth::Eight,
            Some(palette),
            &[1, 1],
        );
        assert_eq!(png_edge_color(&png).unwrap(), "#0080ff");

        let sixteen = [0x12, 0x34, 0xAB, 0xCD, 0xFF, 0xFF];
        let png = encode(
            1,
            1,
            png::ColorType::Rgb,
            png::BitDepth::Sixteen,
            None,
            &sixteen,
        );
        assert_eq!(png_edge_color(&png).unwrap(), "#12abff");
    }

    #[test]
    fn single_row_and_column() {
        let png = encode(
            1,
            3,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            None,
            &[3, 6, 9],
        );
        assert_eq!(edge_color(&png).unwrap(), [6, 6, 6]);
        let png = encode(
            3,
            1,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            None,
            &[3, 6, 10],
        );
        assert_eq!(edge_color(&png).unwrap(), [6, 6, 6]);
    }

    #[test]
    fn not_a_png() {
        let err = png_edge_color(b"GIF89a...").unwrap_err();
        assert!(
            err.starts_with("the input is not a valid PNG image"),
            "{err}"
        );
        let err = png_edge_color(b"").unwrap_err();
        assert!(
            err.starts_with("the input is not a valid PNG image"),
            "{err}"
        );
        let png = encode(
            2,
            2,
            png::ColorType::Rgb,
            png::BitDepth::Eight,
            None,
            &[9; 12],
        );
        let err = png_edge_color(&png[..png.len() - 20]).unwrap_err();
        assert!(
            err.starts_with("the input is not a valid PNG image"),
            "{err}"
        );
    }
}
