//! Hand-made encoders for test inputs: PNG images (stored deflate blocks,
//! no compression library) and tiny WebAssembly modules in the binary
//! format, for registration checks that no compiler would produce.

/// The CRC-32 (IEEE) of `bytes`, as PNG chunks carry it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The Adler-32 checksum of `bytes`, as zlib streams end with it.
pub fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// A zlib stream of stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(0xFFFF).collect();
    for (index, block) in blocks.iter().enumerate() {
        out.push(u8::from(index + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend(adler32(data).to_be_bytes());
    out
}

/// An 8-bit image: `pixels[y][x]` holds one sample per channel.
pub struct Image {
    /// PNG colour type: 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA.
    pub color_type: u8,
    pub pixels: Vec<Vec<Vec<u8>>>,
}

impl Image {
    /// A `width` x `height` image with pixel `(x, y)` = `pixel(x, y)`.
    pub fn new(
        color_type: u8,
        width: usize,
        height: usize,
        pixel: impl Fn(usize, usize) -> Vec<u8>,
    ) -> Image {
        let channels = match color_type {
            0 => 1,
            2 => 3,
            4 => 2,
            6 => 4,
            other => panic!("colour type {other}"),
        };
        let pixels: Vec<Vec<Vec<u8>>> = (0..height)
            .map(|y| (0..width).map(|x| pixel(x, y)).collect())
            .collect();
        assert!(pixels.iter().flatten().all(|p| p.len() == channels));
        Image { color_type, pixels }
    }

    /// The PNG file: unfiltered rows in stored deflate blocks.
    pub fn png(&self) -> Vec<u8> {
        let (height, width) = (self.pixels.len() as u32, self.pixels[0].len() as u32);
        let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
            out.extend((data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend(crc32(&body).to_be_bytes());
        };
        let mut header = Vec::new();
        header.extend(width.to_be_bytes());
        header.extend(height.to_be_bytes());
        header.extend([8, self.color_type, 0, 0, 0]);
        let mut raw = Vec::new();
        for row in &self.pixels {
            raw.push(0); // filter: none
            raw.extend(row.iter().flatten());
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut png, b"IHDR", &header);
        chunk(&mut png, b"IDAT", &zlib_stored(&raw));
        chunk(&mut png, b"IEND", &[]);
        png
    }

    /// The mean colour of the border pixels (each once), rounded to the
    /// nearest integer, as `#rrggbb`; grey counts as r = g = b, alpha is
    /// ignored.
    pub fn expected_edge_color(&self) -> String {
        let (height, width) = (self.pixels.len(), self.pixels[0].len());
        let mut sum = [0u64; 3];
        let mut count = 0u64;
        for (y, row) in self.pixels.iter().enumerate() {
            for (x, pixel) in row.iter().enumerate() {
                if x == 0 || y == 0 || x == width - 1 || y == height - 1 {
                    let rgb = if pixel.len() < 3 {
                        [pixel[0]; 3]
                    } else {
                        [pixel[0], pixel[1], pixel[2]]
                    };
                    for (s, v) in sum.iter_mut().zip(rgb) {
                        *s += u64::from(v);
                    }
                    count += 1;
                }
            }
        }
        let mean = sum.map(|s| (s as f64 / count as f64).round() as u8);
        format!("#{:02x}{:02x}{:02x}", mean[0], mean[1], mean[2])
    }
}

/// `bytes` as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unsigned LEB128.
pub fn leb128(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A wasm name or byte vector: its length, then the bytes.
pub fn wasm_vec(bytes: &[u8]) -> Vec<u8> {
    let mut out = leb128(bytes.len() as u32);
    out.extend_from_slice(bytes);
    out
}

/// A wasm section: its id, then its body as a vector.
pub fn wasm_section(id: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    out.extend(wasm_vec(body));
    out
}

/// The value type `i32` in the binary format.
pub const I32: u8 = 0x7F;

/// One function of a hand-assembled module: imported from `import`
/// (module, name), or defined with `body` and exported as `export`.
pub struct TinyFunction {
    pub import: Option<(&'static str, &'static str)>,
    pub export: String,
    pub params: Vec<u8>,
    pub results: Vec<u8>,
    pub body: Vec<u8>,
}

/// A module to hand-assemble: functions (imports first), one memory of one
/// page exported under `memory` (or not at all), and a `wasql.udfs`
/// section.
pub struct TinyModule {
    pub functions: Vec<TinyFunction>,
    pub memory: Option<&'static str>,
    pub description: String,
}

/// A defined function `export` of `params` and `results` i32s.
pub fn tiny_function(export: &str, params: usize, results: usize, body: &[u8]) -> TinyFunction {
    TinyFunction {
        import: None,
        export: export.to_string(),
        params: vec![I32; params],
        results: vec![I32; results],
        body: body.to_vec(),
    }
}

/// Function bodies: `i32.const 1024`, nothing, `i32.const 1`.
pub const ALLOC_BODY: &[u8] = &[0x00, 0x41, 0x80, 0x08, 0x0B];
pub const NOTHING: &[u8] = &[0x00, 0x0B];
pub const ONE: &[u8] = &[0x00, 0x41, 0x01, 0x0B];

impl TinyModule {
    /// A module with the allocator exports (`wasql_alloc` always returns
    /// 1024) and `functions`, described by `description`.
    pub fn new(functions: Vec<TinyFunction>, description: String) -> TinyModule {
        let mut all = vec![
            tiny_function("wasql_alloc", 2, 1, ALLOC_BODY),
            tiny_function("wasql_free", 3, 0, NOTHING),
            tiny_function("wasql_release", 1, 0, NOTHING),
        ];
        all.extend(functions);
        TinyModule {
            functions: all,
            memory: Some("memory"),
            description,
        }
    }

    /// Gives the export `export` the type `params -> results`.
    pub fn retype(mut self, export: &str, params: &[u8], results: &[u8]) -> TinyModule {
        let function = self
            .functions
            .iter_mut()
            .find(|f| f.export == export)
            .unwrap();
        function.params = params.to_vec();
        function.results = results.to_vec();
        self
    }

    /// Adds the import `module::name` of type `params -> results`.
    pub fn import(
        mut self,
        module: &'static str,
        name: &'static str,
        params: &[u8],
        results: &[u8],
    ) -> TinyModule {
        self.functions.insert(
            0,
            TinyFunction {
                import: Some((module, name)),
                export: String::new(),
                params: params.to_vec(),
                results: results.to_vec(),
                body: Vec::new(),
            },
        );
        self
    }

    /// The module in the binary format.
    pub fn assemble(&self) -> Vec<u8> {
        let mut types = leb128(self.functions.len() as u32);
        for function in &self.functions {
            types.push(0x60);
            types.extend(wasm_vec(&function.params));
            types.extend(wasm_vec(&function.results));
        }
        let (imported, defined): (Vec<_>, Vec<_>) = (0u32..)
            .zip(&self.functions)
            .partition(|(_, f)| f.import.is_some());
        let mut imports = leb128(imported.len() as u32);
        for (index, function) in &imported {
            let (module, name) = function.import.unwrap();
            imports.extend(wasm_vec(module.as_bytes()));
            imports.extend(wasm_vec(name.as_bytes()));
            imports.push(0x00);
            imports.extend(leb128(*index));
        }
        let mut functions = leb128(defined.len() as u32);
        let mut code = leb128(defined.len() as u32);
        let mut exports = Vec::new();
        if let Some(memory) = self.memory {
            exports.extend(wasm_vec(memory.as_bytes()));
            exports.extend([2, 0]);
        }
        for (index, function) in &defined {
            functions.extend(leb128(*index));
            code.extend(wasm_vec(&function.body));
            exports.extend(wasm_vec(function.export.as_bytes()));
            exports.push(0x00);
            exports.extend(leb128(*index));
        }
        let export_count = defined.len() + usize::from(self.memory.is_some());
        let mut export_section = leb128(export_count as u32);
        export_section.extend(exports);
        let memory = [1, 0x00, 1]; // one memory, min 1 page, no max
        let mut custom = wasm_vec(b"wasql.udfs");
        custom.extend_from_slice(self.description.as_bytes());

        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(wasm_section(1, &types));
        if !imported.is_empty() {
            module.extend(wasm_section(2, &imports));
        }
        module.extend(wasm_section(3, &functions));
        module.extend(wasm_section(5, &memory));
        module.extend(wasm_section(7, &export_section));
        module.extend(wasm_section(10, &code));
        module.extend(wasm_section(0, &custom));
        module
    }
}

/// A minimal ABI v1 module with one scalar function `name(int64) -> int64`,
/// exported as `tiny_fn` (which always fails).
pub fn tiny_scalar(name: &str) -> TinyModule {
    TinyModule::new(
        vec![tiny_function("tiny_fn", 5, 1, ONE)],
        format!(
            "{{\"abi\":1,\"name\":\"{name}\",\"kind\":\"scalar\",\"export\":\"tiny_fn\",\"args\":[\"int64\"],\"returns\":\"int64\"}}\n"
        ),
    )
}

/// [`tiny_scalar`] in the binary format.
pub fn tiny_module(name: &str) -> Vec<u8> {
    tiny_scalar(name).assemble()
}
