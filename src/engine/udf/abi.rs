//! Moving Arrow arrays into and out of a guest (udfs/ABI.md §3–§5).
//!
//! Inputs: one block is allocated in the guest per call holding the
//! `ArrowArray` structs, the result and error slots, and every argument's
//! buffers, copied in Arrow's layout. Output: the guest's result buffers are
//! bounds-checked against its memory, copied out, and fully validated by
//! Arrow (`ArrayData::try_new`) before they become an array.

use datafusion::arrow::array::{Array, ArrayData, ArrayRef, MutableArrayData, make_array};
use datafusion::arrow::buffer::Buffer;

use wasql_abi::{ArrowArray, WasqlError};

use super::describe::{ArrowType, WasmType};
use super::error::CallError;
use super::exports;
use super::sandbox::GuestInstance;
/// Alignment of every buffer in the input block.
const ALIGN: usize = 16;
/// Longest error message taken from a guest, in bytes as shown (control
/// characters escaped); a longer one is cut, with a note.
const MAX_ERROR: usize = 4 * 1024;

/// One argument, ready to go into guest memory.
struct ArgLayout {
    data: ArrayData,
}

impl ArgLayout {
    /// The argument's buffers in ABI order, borrowed from the array:
    /// validity (empty when all rows are valid), then the type's buffers.
    fn buffers(&self) -> Vec<&[u8]> {
        let len = self.data.len();
        let validity = self
            .data
            .nulls()
            .filter(|n| n.null_count() > 0)
            .map_or(&[][..], |n| &n.buffer().as_slice()[..len.div_ceil(8)]);
        std::iter::once(validity)
            .chain(self.data.buffers().iter().map(|b| b.as_slice()))
            .collect()
    }
}

fn round_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Prepares an argument; the ABI passes arrays at offset 0, so a sliced
/// array (its data or its validity bitmap) is copied into a fresh one first.
fn layout(array: &ArrayRef) -> ArgLayout {
    let mut data = array.to_data();
    if data.offset() != 0 || data.nulls().is_some_and(|n| n.offset() != 0) {
        let mut copy = MutableArrayData::new(vec![&data], false, data.len());
        copy.try_extend(0, 0, data.len())
            .expect("copying an array into one of its own length");
        data = copy.freeze();
    }
    ArgLayout { data }
}

fn write(memory: &mut [u8], at: usize, bytes: &[u8]) {
    memory[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The `N` bytes of guest memory at `at`, if all inside it.
fn guest_bytes<const N: usize>(memory: &[u8], at: usize) -> Result<&[u8; N], String> {
    let bytes = guest_slice(memory, at, N)?;
    Ok(bytes.try_into().expect("guest_slice returns N bytes"))
}

/// Where one call's structs and buffers are in guest memory.
pub struct Frame {
    /// The first argument struct.
    pub args_at: usize,
    /// The first of the output structs the guest fills in.
    pub out_at: usize,
    /// How many output structs there are.
    outputs: usize,
    /// The error struct.
    pub err_at: usize,
    /// The extra u32 arrays (group numbers, part bounds), in order.
    pub extras_at: Vec<usize>,
}

impl Frame {
    /// The guest address of output struct `index`.
    pub fn out(&self, index: usize) -> usize {
        self.out_at + index * ArrowArray::SIZE
    }
}

/// Writes a call's inputs into the instance's argument block: the argument
/// arrays (each struct followed, further on, by its buffer table and
/// buffers), `outputs` zeroed output structs, a zeroed error struct, and the
/// `extras` u32 arrays. Arms the call's deadline.
pub fn place(
    instance: &mut GuestInstance,
    args: &[ArrayRef],
    extras: &[&[u32]],
    outputs: usize,
) -> Result<Frame, CallError> {
    let layouts: Vec<ArgLayout> = args.iter().map(layout).collect();
    let buffers: Vec<Vec<&[u8]>> = layouts.iter().map(ArgLayout::buffers).collect();

    // Block layout: [arg structs][out structs][err struct][extras][per arg:
    // buffer pointer table, then each buffer].
    let out_at = ArrowArray::SIZE * args.len();
    let err_at = out_at + ArrowArray::SIZE * outputs;
    let zeroed = round_up(err_at + WasqlError::SIZE);
    let mut size = zeroed;
    let mut extras_at = Vec::with_capacity(extras.len());
    for extra in extras {
        extras_at.push(size);
        size = round_up(size + 4 * extra.len());
    }
    let mut placements = Vec::with_capacity(layouts.len());
    for arg in &buffers {
        let table = size;
        size = round_up(size + 4 * arg.len());
        let mut at = Vec::with_capacity(arg.len());
        for buffer in arg {
            at.push(size);
            size = round_up(size + buffer.len());
        }
        placements.push((table, at));
    }
    if i32::try_from(size).is_err() {
        return Err(CallError::Refused(format!(
            "a batch of {size} bytes does not fit a 32-bit guest"
        )));
    }
    instance.arm_deadline();
    let base = argument_block(instance, size)?;
    let memory = instance.memory.data_mut(&mut instance.store);
    if base.checked_add(size).is_none_or(|end| end > memory.len()) {
        return Err(CallError::Host(
            "wasql_alloc returned memory out of bounds".into(),
        ));
    }
    let block = &mut memory[base..base + size];
    block[..zeroed].fill(0);
    for (extra, &at) in extras.iter().zip(&extras_at) {
        let bytes = &mut block[at..at + 4 * extra.len()];
        for (slot, value) in bytes.chunks_exact_mut(4).zip(extra.iter()) {
            slot.copy_from_slice(&value.to_le_bytes());
        }
    }
    let args = layouts.iter().zip(&buffers).zip(&placements);
    for (index, ((arg, arg_buffers), (table, at))) in args.enumerate() {
        let header = ArrowArray {
            length: arg.data.len() as i64,
            null_count: arg.data.null_count() as i64,
            n_buffers: arg_buffers.len() as i64,
            buffers: (base + table) as u32,
            ..ArrowArray::default()
        };
        write(block, index * ArrowArray::SIZE, &header.to_le_bytes());
        for (slot, (buffer, offset)) in arg_buffers.iter().zip(at).enumerate() {
            let pointer = if buffer.is_empty() && slot == 0 {
                0
            } else {
                (base + offset) as u32
            };
            write(block, table + 4 * slot, &pointer.to_le_bytes());
            write(block, *offset, buffer);
        }
    }
    Ok(Frame {
        args_at: base,
        out_at: base + out_at,
        outputs,
        err_at: base + err_at,
        extras_at: extras_at.into_iter().map(|at| base + at).collect(),
    })
}

/// Turns a guest call's outcome into a result: a trap breaks the instance;
/// a non-zero status is the guest's error; on success `read` takes the
/// outputs, which are then released (even when `read` refuses them).
pub fn finish<T>(
    instance: &mut GuestInstance,
    frame: &Frame,
    call: wasmtime::Result<i32>,
    read: impl FnOnce(&GuestInstance) -> Result<T, String>,
) -> Result<T, CallError> {
    let status = call.map_err(|e| instance.explain(&e))?;
    if status != 0 {
        return Err(CallError::Guest(read_error(instance, frame.err_at)?));
    }
    let result = read(instance);
    for index in 0..frame.outputs {
        instance
            .release
            .call(&mut instance.store, frame.out(index) as i32)
            .map_err(|e| CallError::during("wasql_release failed", instance.explain(&e)))?;
    }
    result.map_err(|e| CallError::Refused(format!("invalid result: {e}")))
}

/// Calls the scalar export `export` on `args` (each `nrows` long, or 1 for a
/// constant) and returns its result of type `returns`.
pub fn call_scalar(
    instance: &mut GuestInstance,
    export: &str,
    args: &[ArrayRef],
    nrows: usize,
    returns: WasmType,
) -> Result<ArrayRef, CallError> {
    let function = instance
        .export::<exports::Scalar>(export)
        .map_err(CallError::Host)?;
    let frame = place(instance, args, &[], 1)?;
    let call = function.call(
        &mut instance.store,
        (
            frame.args_at as i32,
            args.len() as i32,
            nrows as i32,
            frame.out_at as i32,
            frame.err_at as i32,
        ),
    );
    finish(instance, &frame, call, |instance| {
        read_array(instance, frame.out(0), Some(nrows), returns)
    })
}

/// The guest address of an argument block of at least `size` bytes: the
/// instance's block from earlier calls, or a larger one (with room to grow)
/// from `wasql_alloc`.
fn argument_block(instance: &mut GuestInstance, size: usize) -> Result<usize, CallError> {
    if let Some((base, capacity)) = instance.arg_block
        && capacity >= size
    {
        return Ok(base as usize);
    }
    if let Some((base, capacity)) = instance.arg_block.take() {
        instance
            .free
            .call(
                &mut instance.store,
                (base as i32, capacity as i32, ALIGN as i32),
            )
            .map_err(|e| CallError::during("wasql_free failed", instance.explain(&e)))?;
    }
    let capacity = size.saturating_add(size / 4).min(i32::MAX as usize);
    let base = instance
        .alloc
        .call(&mut instance.store, (capacity as i32, ALIGN as i32))
        .map_err(|e| CallError::during("wasql_alloc failed", instance.explain(&e)))?;
    if base == 0 {
        return Err(CallError::Guest(format!(
            "the guest could not allocate {capacity} bytes for its arguments"
        )));
    }
    let base = base as u32 as usize;
    let memory_len = instance.memory.data_size(&instance.store);
    if base
        .checked_add(capacity)
        .is_none_or(|end| end > memory_len)
    {
        return Err(CallError::Host(
            "wasql_alloc returned memory out of bounds".into(),
        ));
    }
    instance.arg_block = Some((base as u32, capacity));
    Ok(base)
}

/// Reads, frees and returns the guest's error message: its first
/// [`MAX_ERROR`] bytes only, control characters escaped, cut to
/// [`MAX_ERROR`] bytes as shown, with a note when cut.
fn read_error(instance: &mut GuestInstance, at: usize) -> Result<String, CallError> {
    let memory = instance.memory.data(&instance.store);
    let error = match guest_bytes(memory, at) {
        Ok(bytes) => WasqlError::from_le_bytes(bytes),
        Err(_) => return Ok("the function failed (its error slot is out of bounds)".into()),
    };
    let (ptr, len) = (error.ptr as usize, error.len as usize);
    if ptr == 0 || len == 0 {
        return Ok("the function failed without a message".into());
    }
    let message = match guest_slice(memory, ptr, len.min(MAX_ERROR)) {
        Ok(bytes) => shown_message(bytes, len),
        Err(_) => return Ok("the function failed (its error message is out of bounds)".into()),
    };
    instance
        .free
        .call(&mut instance.store, (ptr as i32, len as i32, 1))
        .map_err(|e| CallError::during("wasql_free failed", instance.explain(&e)))?;
    Ok(message)
}

/// A guest's error message of `len` bytes, of which `bytes` were read, as
/// shown: invalid UTF-8 replaced (a character cut off by the read is
/// dropped), control characters escaped, at most [`MAX_ERROR`] bytes plus a
/// note saying how long the message was when it does not all fit.
fn shown_message(bytes: &[u8], len: usize) -> String {
    let read_all = bytes.len() == len;
    let mut text = String::with_capacity(bytes.len());
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        text.push_str(chunk.valid());
        let cut_off = !read_all && chunks.peek().is_none();
        if !chunk.invalid().is_empty() && !cut_off {
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    let (shown, whole) = crate::text::escape_control_within(&text, MAX_ERROR);
    if whole && read_all {
        return shown.into_owned();
    }
    format!("{shown} … (cut: the guest's message was {len} bytes)")
}

/// `len` bytes of guest memory at `ptr`, if all inside it.
fn guest_slice(memory: &[u8], ptr: usize, len: usize) -> Result<&[u8], String> {
    match ptr.checked_add(len) {
        Some(end) if end <= memory.len() => Ok(&memory[ptr..end]),
        _ => Err(format!(
            "buffer at {ptr:#x} of {len} bytes is outside guest memory ({} bytes)",
            memory.len()
        )),
    }
}

/// Most rows an output array may have.
const MAX_ROWS: i64 = i32::MAX as i64;

/// Reads and validates the array struct at `at`: `nrows` rows of type
/// `returns`, or, when `nrows` is `None`, as many as it says (up to
/// `i32::MAX`).
pub fn read_array(
    instance: &GuestInstance,
    at: usize,
    nrows: Option<usize>,
    returns: WasmType,
) -> Result<ArrayRef, String> {
    read_array_from(instance.memory.data(&instance.store), at, nrows, returns)
}

/// [`read_array`] over a guest's linear memory `memory`: everything it
/// reads comes from there, so it is checked as untrusted (and fuzzed
/// without a guest).
fn read_array_from(
    memory: &[u8],
    at: usize,
    nrows: Option<usize>,
    returns: WasmType,
) -> Result<ArrayRef, String> {
    let ArrowArray {
        length,
        null_count,
        offset,
        n_buffers,
        n_children,
        buffers: table,
        children,
        dictionary,
        ..
    } = ArrowArray::from_le_bytes(guest_bytes(memory, at)?);
    let nrows = match nrows {
        Some(nrows) if length != nrows as i64 => {
            return Err(format!("length is {length}, expected {nrows}"));
        }
        Some(nrows) => nrows,
        None if !(0..=MAX_ROWS).contains(&length) => {
            return Err(format!("length {length} is out of range"));
        }
        None => length as usize,
    };
    if offset != 0 || n_children != 0 || children != 0 || dictionary != 0 {
        return Err("offset, children and dictionary must be 0".into());
    }
    let expected_buffers = returns.n_buffers();
    if n_buffers != expected_buffers as i64 {
        return Err(format!(
            "{n_buffers} buffers, expected {expected_buffers} for {returns:?}"
        ));
    }
    let pointers = guest_slice(memory, table as usize, 4 * expected_buffers)?;
    let pointer = |i: usize| {
        u32::from_le_bytes(pointers[4 * i..4 * i + 4].try_into().expect("4 bytes")) as usize
    };
    let bitmap_len = nrows.div_ceil(8);
    let validity = match pointer(0) {
        0 => None,
        ptr => Some(Buffer::from_slice_ref(guest_slice(
            memory, ptr, bitmap_len,
        )?)),
    };
    let required = |what: &str, ptr: usize| {
        if ptr == 0 {
            Err(format!("the {what} buffer pointer is null"))
        } else {
            Ok(ptr)
        }
    };
    let (buffers, checked) = match returns {
        WasmType::Utf8 | WasmType::Binary => {
            let offsets_ptr = required("offsets", pointer(1))?;
            let offsets = guest_slice(memory, offsets_ptr, 4 * (nrows + 1))?;
            let last = i32::from_le_bytes(offsets[4 * nrows..].try_into().expect("4 bytes"));
            let data_len =
                usize::try_from(last).map_err(|_| format!("last offset {last} is negative"))?;
            let data = guest_slice(memory, required("data", pointer(2))?, data_len)?;
            let (offsets, data) = (
                Buffer::from_slice_ref(offsets),
                Buffer::from_slice_ref(data),
            );
            check_offsets_and_text(
                offsets.typed_data::<i32>(),
                data.as_slice(),
                returns == WasmType::Utf8,
            )?;
            (vec![offsets, data], true)
        }
        WasmType::Boolean => (
            vec![Buffer::from_slice_ref(guest_slice(
                memory,
                required("values", pointer(1))?,
                bitmap_len,
            )?)],
            false,
        ),
        other => {
            let width = other.byte_width().expect("fixed-width type");
            (
                vec![Buffer::from_slice_ref(guest_slice(
                    memory,
                    required("values", pointer(1))?,
                    width * nrows,
                )?)],
                false,
            )
        }
    };
    let data_type = returns.data_type();
    let data = if checked {
        // SAFETY: the buffers have the sizes the type needs for nrows rows
        // (read above), and check_offsets_and_text checked what else Arrow's
        // validation would: offsets in order and in bounds, UTF-8 per value.
        unsafe { ArrayData::new_unchecked(data_type, nrows, None, validity, 0, buffers, vec![]) }
    } else {
        // `try_new` validates everything else (lengths, sizes): the data is
        // not trusted.
        ArrayData::try_new(data_type, nrows, validity, 0, buffers, vec![])
            .map_err(|e| e.to_string())?
    };
    if null_count != -1 && null_count != data.null_count() as i64 {
        return Err(format!(
            "null_count is {null_count} but the validity bitmap has {} nulls",
            data.null_count()
        ));
    }
    Ok(make_array(data))
}

/// What Arrow's full validation checks of a string or binary array's
/// offsets and data, in passes the compiler vectorizes (Arrow's checks each
/// offset one by one, which costs as much as the UDF call): offsets start at
/// 0 or more, never decrease and end inside `data`; for strings, the bytes
/// are UTF-8 and every value starts on a character boundary, so each value
/// is UTF-8 on its own.
fn check_offsets_and_text(offsets: &[i32], data: &[u8], utf8: bool) -> Result<(), String> {
    let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
    if first < 0 {
        return Err(format!("first offset {first} is negative"));
    }
    let decreases = offsets[1..]
        .iter()
        .zip(offsets)
        .fold(false, |bad, (next, this)| bad | (next < this));
    if decreases {
        let row = offsets.windows(2).position(|w| w[1] < w[0]).unwrap_or(0);
        return Err(format!(
            "offsets decrease at row {row} ({} then {})",
            offsets[row],
            offsets[row + 1]
        ));
    }
    if last as usize > data.len() {
        return Err(format!(
            "last offset {last} is past the data buffer ({} bytes)",
            data.len()
        ));
    }
    if !utf8 {
        return Ok(());
    }
    let text = &data[first as usize..last as usize];
    if is_ascii(text) {
        return Ok(());
    }
    if let Err(e) = std::str::from_utf8(text) {
        let at = first as usize + e.valid_up_to();
        let row = offsets
            .partition_point(|&o| o as usize <= at)
            .saturating_sub(1);
        return Err(format!(
            "value {row} is not valid UTF-8 (byte {at} of the data buffer)"
        ));
    }
    // A continuation byte (0b10xxxxxx) where a value starts splits a character.
    let splits = |&offset: &i32| data.get(offset as usize).is_some_and(|&b| (b as i8) < -64);
    match offsets.iter().position(splits) {
        Some(row) => Err(format!(
            "value {row} starts inside a UTF-8 character (offset {})",
            offsets[row]
        )),
        None => Ok(()),
    }
}

/// Whether every byte is below 0x80: ORs 64 bytes per step into an
/// accumulator the compiler keeps in vector registers, about four times the
/// speed of `<[u8]>::is_ascii` on long buffers.
fn is_ascii(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(64);
    let mut seen = [0u8; 64];
    for chunk in &mut chunks {
        for (seen, byte) in seen.iter_mut().zip(chunk) {
            *seen |= byte;
        }
    }
    seen.iter()
        .chain(chunks.remainder())
        .fold(0, |all, b| all | b)
        < 0x80
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;
    use std::sync::Arc;

    #[test]
    fn guest_error_messages_are_escaped_and_capped() {
        assert_eq!(
            shown_message(b"bad \x1b[2J\0 \xff end", 15),
            "bad \\x1b[2J\\x00 \u{fffd} end"
        );
        // 64 KiB of two-byte characters: only MAX_ERROR bytes are read, the
        // character the read cut in two is dropped, not replaced.
        let long = "é".repeat(32 * 1024);
        let read = &long.as_bytes()[..MAX_ERROR - 1];
        let shown = shown_message(read, long.len());
        assert!(
            shown.ends_with(" … (cut: the guest's message was 65536 bytes)"),
            "{shown}"
        );
        assert!(!shown.contains('\u{fffd}'));
        assert_eq!(shown.matches('é').count(), MAX_ERROR / 2 - 1);
        // Escaping makes a message longer: it is cut to MAX_ERROR as shown.
        let escapes = "\x1b".repeat(MAX_ERROR);
        let shown = shown_message(escapes.as_bytes(), escapes.len());
        assert!(shown.len() < MAX_ERROR + 60, "{}", shown.len());
        assert!(shown.starts_with("\\x1b\\x1b") && shown.ends_with("4096 bytes)"));
    }

    #[test]
    fn layouts_follow_the_abi() {
        let strings: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), None, Some("c")]));
        let arg = layout(&strings);
        let buffers = arg.buffers();
        assert_eq!(buffers.len(), 3);
        assert_eq!(buffers[0], [0b101]);
        assert_eq!(buffers[1].len(), 16);
        assert_eq!(buffers[2], b"abc");

        let with_nulls: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), None]));
        let sliced = layout(&with_nulls.slice(1, 3));
        assert_eq!(
            sliced.buffers()[0],
            [0b010],
            "the bitmap of the slice, from bit 0"
        );

        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3, 4]));
        let sliced = layout(&ints.slice(1, 2));
        assert_eq!(sliced.data.offset(), 0);
        let buffers = sliced.buffers();
        assert!(buffers[0].is_empty(), "no nulls, no bitmap");
        assert_eq!(
            buffers[1],
            [2i64.to_le_bytes(), 3i64.to_le_bytes()].concat()
        );
    }

    #[test]
    fn ascii_check_matches_std() {
        for len in [0usize, 1, 63, 64, 65, 127, 128, 200, 1000] {
            let ascii: Vec<u8> = (0..len).map(|i| (i % 128) as u8).collect();
            assert!(is_ascii(&ascii), "{len}");
            for at in [0, len / 2, len.saturating_sub(1)] {
                if len > 0 {
                    let mut high = ascii.clone();
                    high[at] = 0x80 | (at as u8);
                    assert!(!is_ascii(&high), "len {len}, high byte at {at}");
                }
            }
        }
    }

    /// The fast check accepts exactly the arrays whose every value is in
    /// bounds (and, for strings, UTF-8), and Arrow accepts what it accepts.
    #[test]
    fn offsets_and_text_checks_match_a_value_by_value_check() {
        use datafusion::arrow::array::{BinaryArray, StringArray};
        let alphabet: [&[u8]; 6] = [b"a", b"Z", "é".as_bytes(), "€".as_bytes(), b"\xff", b"\x80"];
        let mut seed = 0x9e37_79b9_u32;
        let mut next = move |n: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed % n
        };
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let mut data = Vec::new();
            for _ in 0..next(6) {
                data.extend_from_slice(alphabet[next(6) as usize]);
            }
            let rows = 1 + next(4) as usize;
            let mut offsets = vec![next(3) as i32 - (next(8) == 0) as i32];
            for _ in 0..rows {
                let step = next(4) as i32 - (next(6) == 0) as i32;
                offsets.push(offsets.last().unwrap() + step);
            }
            let last = *offsets.last().unwrap();
            if last < 0 || last as usize > data.len() {
                continue; // read_array refuses these before the check
            }
            data.truncate(last as usize); // as read_array reads it
            for utf8 in [true, false] {
                let value_by_value = offsets[0] >= 0
                    && offsets.windows(2).all(|w| {
                        w[0] <= w[1]
                            && w[1] as usize <= data.len()
                            && (!utf8
                                || std::str::from_utf8(&data[w[0] as usize..w[1] as usize]).is_ok())
                    });
                let ours = check_offsets_and_text(&offsets, &data, utf8);
                assert_eq!(
                    ours.is_ok(),
                    value_by_value,
                    "offsets {offsets:?} data {data:?} utf8 {utf8}: {ours:?}"
                );
                if ours.is_ok() {
                    accepted += 1;
                    let buffers = vec![
                        Buffer::from_slice_ref(&offsets),
                        Buffer::from_slice_ref(&data),
                    ];
                    let array = if utf8 {
                        Arc::new(StringArray::from(
                            ArrayData::try_new(
                                datafusion::arrow::datatypes::DataType::Utf8,
                                rows,
                                None,
                                0,
                                buffers,
                                vec![],
                            )
                            .unwrap_or_else(|e| panic!("{offsets:?} {data:?}: {e}")),
                        )) as ArrayRef
                    } else {
                        Arc::new(BinaryArray::from(
                            ArrayData::try_new(
                                datafusion::arrow::datatypes::DataType::Binary,
                                rows,
                                None,
                                0,
                                buffers,
                                vec![],
                            )
                            .unwrap(),
                        )) as ArrayRef
                    };
                    assert_eq!(array.len(), rows);
                } else {
                    refused += 1;
                }
            }
        }
        assert!(
            accepted > 1000 && refused > 1000,
            "{accepted} accepted, {refused} refused"
        );
    }

    /// Every type that crosses the ABI, the variable-length ones often;
    /// decimals of every valid precision and scale.
    fn wasm_types() -> impl Strategy<Value = WasmType> {
        let (variable, fixed): (Vec<WasmType>, Vec<WasmType>) =
            WasmType::SIMPLE.into_iter().partition(|t| t.is_variable());
        prop_oneof![
            3 => select(fixed),
            3 => select(variable),
            1 => (1..=wasql_abi::MAX_DECIMAL_PRECISION)
                .prop_flat_map(|p| (Just(p), -(p as i8)..=p as i8))
                .prop_filter_map("a valid decimal", |(p, s)| WasmType::decimal128(p, s)),
        ]
    }

    /// Pieces of string values: ASCII, two-, three- and four-byte
    /// characters, so that value boundaries fall next to multi-byte ones.
    const PIECES: [&str; 8] = ["", "a", "Z", ";", "\u{0}", "é", "€", "😀"];

    /// A valid result a guest could return: `nrows` rows of `returns`, a
    /// validity bitmap or none, and the type's buffers in ABI order.
    #[derive(Debug, Clone)]
    struct GuestArray {
        returns: WasmType,
        nrows: usize,
        validity: Option<Vec<bool>>,
        buffers: Vec<Vec<u8>>,
    }

    fn bitmap(bits: &[bool]) -> Vec<u8> {
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (i, _) in bits.iter().enumerate().filter(|(_, valid)| **valid) {
            bytes[i / 8] |= 1 << (i % 8);
        }
        bytes
    }

    /// The offsets and data buffers of string or binary `values`.
    fn variable_buffers(values: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut offsets = 0i32.to_le_bytes().to_vec();
        let mut data = Vec::new();
        for value in values {
            data.extend_from_slice(value);
            offsets.extend_from_slice(&(data.len() as i32).to_le_bytes());
        }
        vec![offsets, data]
    }

    fn guest_arrays() -> impl Strategy<Value = GuestArray> {
        (wasm_types(), 0usize..20).prop_flat_map(|(returns, nrows)| {
            let buffers = match returns {
                WasmType::Utf8 => vec(
                    vec(select(&PIECES[..]), 0..4).prop_map(|p| p.concat().into_bytes()),
                    nrows,
                )
                .prop_map(|values| variable_buffers(&values))
                .boxed(),
                WasmType::Binary => vec(vec(any::<u8>(), 0..6), nrows)
                    .prop_map(|values| variable_buffers(&values))
                    .boxed(),
                WasmType::Boolean => vec(any::<u8>(), nrows.div_ceil(8))
                    .prop_map(|bits| vec![bits])
                    .boxed(),
                fixed => vec(any::<u8>(), fixed.byte_width().unwrap() * nrows)
                    .prop_map(|values| vec![values])
                    .boxed(),
            };
            (proptest::option::of(vec(any::<bool>(), nrows)), buffers).prop_map(
                move |(validity, buffers)| GuestArray {
                    returns,
                    nrows,
                    validity,
                    buffers,
                },
            )
        })
    }

    impl GuestArray {
        /// The array a correct reader returns.
        fn expected(&self) -> ArrayData {
            ArrayData::try_new(
                self.returns.data_type(),
                self.nrows,
                self.validity
                    .as_deref()
                    .map(|v| Buffer::from_vec(bitmap(v))),
                0,
                self.buffers.iter().map(Buffer::from_slice_ref).collect(),
                vec![],
            )
            .expect("the generator builds valid arrays")
        }

        /// Lays the array out in a fresh guest memory: `lead` filler bytes,
        /// the header, then the buffer table and each buffer after a gap of
        /// `gaps[i]` bytes, then `gaps[4]` trailing bytes; filler is
        /// pseudo-random from `seed`. The header's null count is -1
        /// ("unknown") when `unknown_nulls`. Returns the memory, where the
        /// header is and the buffer table's pointers.
        fn place(
            &self,
            lead: usize,
            gaps: &[usize],
            unknown_nulls: bool,
            mut seed: u64,
        ) -> (Vec<u8>, usize, Vec<u32>) {
            let mut memory = Vec::new();
            let mut pad = |memory: &mut Vec<u8>, n: usize| {
                for _ in 0..n {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    memory.push(seed as u8);
                }
            };
            pad(&mut memory, lead);
            let at = memory.len();
            memory.resize(at + ArrowArray::SIZE, 0);
            pad(&mut memory, gaps[0]);
            let table = memory.len();
            let slots = 1 + self.buffers.len();
            memory.resize(table + 4 * slots, 0);
            let validity = self.validity.as_deref().map(bitmap);
            let mut pointers = Vec::with_capacity(slots);
            if validity.is_none() {
                pointers.push(0);
            }
            for buffer in validity.iter().chain(&self.buffers) {
                pad(&mut memory, gaps[1 + pointers.len().min(2)]);
                pointers.push(memory.len() as u32);
                memory.extend_from_slice(buffer);
            }
            pad(&mut memory, gaps[4]);
            let nulls = self
                .validity
                .as_ref()
                .map_or(0, |v| v.iter().filter(|b| !**b).count());
            let null_count = if unknown_nulls { -1 } else { nulls as i64 };
            let header = ArrowArray {
                length: self.nrows as i64,
                null_count,
                n_buffers: slots as i64,
                buffers: table as u32,
                ..ArrowArray::default()
            };
            write(&mut memory, at, &header.to_le_bytes());
            for (slot, pointer) in pointers.iter().enumerate() {
                write(&mut memory, table + 4 * slot, &pointer.to_le_bytes());
            }
            (memory, at, pointers)
        }
    }

    /// How many rows the caller asks for.
    #[derive(Debug, Clone, Copy)]
    enum Rows {
        /// As many as the guest was given (scalar and aggregate calls).
        Exact,
        /// As many as the guest says (table functions).
        Unknown,
        /// A number the guest's array may not have.
        Other(usize),
    }

    fn rows() -> impl Strategy<Value = Rows> {
        prop_oneof![
            3 => Just(Rows::Exact),
            3 => Just(Rows::Unknown),
            1 => (0usize..30).prop_map(Rows::Other),
        ]
    }

    impl Rows {
        fn resolve(self, nrows: usize) -> Option<usize> {
            match self {
                Rows::Exact => Some(nrows),
                Rows::Unknown => None,
                Rows::Other(n) => Some(n),
            }
        }
    }

    /// A guest pointer a buggy or hostile guest could write.
    #[derive(Debug, Clone)]
    enum Pointer {
        Null,
        /// The right pointer moved by up to 128 bytes either way.
        Shift(i8),
        /// This many bytes before the end of memory.
        FromEnd(u8),
        /// The pointer of buffer table slot `n % slots`: overlapping buffers.
        SameAs(usize),
        Any(u32),
    }

    fn pointers() -> impl Strategy<Value = Pointer> {
        prop_oneof![
            Just(Pointer::Null),
            any::<i8>().prop_map(Pointer::Shift),
            any::<u8>().prop_map(Pointer::FromEnd),
            any::<usize>().prop_map(Pointer::SameAs),
            prop_oneof![Just(u32::MAX), Just(u32::MAX - 3), any::<u32>()].prop_map(Pointer::Any),
        ]
    }

    /// One way to break a valid result.
    #[derive(Debug, Clone)]
    enum Mutation {
        /// Sets header field `n % 5` (length, null_count, offset, n_buffers,
        /// n_children).
        Field(usize, i64),
        /// Sets the buffer table, children or dictionary pointer (`n % 3`).
        HeaderPointer(usize, Pointer),
        /// Sets buffer table entry `n % 4` (the fourth is past the table of
        /// a string result).
        Buffer(usize, Pointer),
        /// Changes offset `n % (nrows + 1)` of a string or binary result:
        /// by a few (out of order, inside a character), to any value, or to
        /// a few past the end of the data.
        Offset(usize, OffsetChange),
        /// Sets byte `n % len` of the last buffer (string data or values):
        /// invalid UTF-8, a split character.
        DataByte(usize, u8),
        /// Flips bit `bit % 8` of byte `n % len` of memory.
        Flip(usize, u8),
        /// Cuts memory to `n % (len + 1)` bytes.
        Truncate(usize),
    }

    #[derive(Debug, Clone)]
    enum OffsetChange {
        Add(i8),
        Set(i32),
        PastEnd(u8),
    }

    fn mutations() -> impl Strategy<Value = Mutation> {
        let field_values = prop_oneof![
            -2i64..40,
            select(vec![
                i32::MAX as i64,
                i32::MAX as i64 + 1,
                u32::MAX as i64,
                i64::MIN,
                i64::MAX
            ]),
            any::<i64>(),
        ];
        let offset_changes = prop_oneof![
            3 => prop_oneof![3 => -4i8..=4, 1 => any::<i8>()].prop_map(OffsetChange::Add),
            1 => prop_oneof![Just(i32::MIN), Just(-1), Just(i32::MAX), any::<i32>()]
                .prop_map(OffsetChange::Set),
            1 => any::<u8>().prop_map(OffsetChange::PastEnd),
        ];
        let bytes = prop_oneof![
            select(vec![0x80u8, 0xbf, 0xc3, 0xe2, 0xf0, 0xff]),
            any::<u8>()
        ];
        prop_oneof![
            3 => (any::<usize>(), field_values).prop_map(|(n, v)| Mutation::Field(n, v)),
            2 => (any::<usize>(), pointers()).prop_map(|(n, p)| Mutation::HeaderPointer(n, p)),
            4 => (any::<usize>(), pointers()).prop_map(|(n, p)| Mutation::Buffer(n, p)),
            4 => (any::<usize>(), offset_changes).prop_map(|(n, c)| Mutation::Offset(n, c)),
            3 => (any::<usize>(), bytes).prop_map(|(n, b)| Mutation::DataByte(n, b)),
            2 => (any::<usize>(), any::<u8>()).prop_map(|(n, bit)| Mutation::Flip(n, bit)),
            1 => any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    /// Writes `bytes` at `at` where they fit in memory (a mutation may
    /// point anywhere).
    fn put(memory: &mut [u8], at: usize, bytes: &[u8]) {
        if let Some(slot) = memory.get_mut(at..at.saturating_add(bytes.len())) {
            slot.copy_from_slice(bytes);
        }
    }

    fn get_u32(memory: &[u8], at: usize) -> u32 {
        memory
            .get(at..at.saturating_add(4))
            .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()))
    }

    impl Mutation {
        fn apply(&self, memory: &mut Vec<u8>, at: usize, pointers: &[u32], array: &GuestArray) {
            let [buffers, ..] = ArrowArray::POINTER_FIELDS;
            let table = get_u32(memory, at + buffers) as usize;
            let pointer = |memory: &[u8], p: &Pointer, current: u32| match p {
                Pointer::Null => 0,
                Pointer::Shift(d) => current.wrapping_add_signed(i32::from(*d)),
                Pointer::FromEnd(k) => (memory.len() as u32).saturating_sub(u32::from(*k)),
                Pointer::SameAs(slot) => pointers[slot % pointers.len()],
                Pointer::Any(v) => *v,
            };
            match self {
                Mutation::Field(n, value) => {
                    let field = ArrowArray::I64_FIELDS[n % ArrowArray::I64_FIELDS.len()];
                    put(memory, at + field, &value.to_le_bytes())
                }
                Mutation::HeaderPointer(n, p) => {
                    let field = at + ArrowArray::POINTER_FIELDS[n % 3];
                    let value = pointer(memory, p, get_u32(memory, field));
                    put(memory, field, &value.to_le_bytes());
                }
                Mutation::Buffer(n, p) => {
                    let entry = table + 4 * (n % 4);
                    let value = pointer(memory, p, get_u32(memory, entry));
                    put(memory, entry, &value.to_le_bytes());
                }
                Mutation::Offset(n, change) => {
                    if matches!(array.returns, WasmType::Utf8 | WasmType::Binary) {
                        let entry = pointers[1] as usize + 4 * (n % (array.nrows + 1));
                        let current = get_u32(memory, entry) as i32;
                        let value = match change {
                            OffsetChange::Add(d) => current.wrapping_add(i32::from(*d)),
                            OffsetChange::Set(v) => *v,
                            OffsetChange::PastEnd(k) => {
                                array.buffers[1].len() as i32 + i32::from(*k)
                            }
                        };
                        put(memory, entry, &value.to_le_bytes());
                    }
                }
                Mutation::DataByte(n, byte) => {
                    let len = array.buffers.last().map_or(0, Vec::len);
                    if len > 0 {
                        let last = *pointers.last().unwrap() as usize;
                        put(memory, last + n % len, &[*byte]);
                    }
                }
                Mutation::Flip(n, bit) => {
                    if !memory.is_empty() {
                        let len = memory.len();
                        memory[n % len] ^= 1 << (bit % 8);
                    }
                }
                Mutation::Truncate(n) => memory.truncate(n % (memory.len() + 1)),
            }
        }
    }

    /// What must hold of any array `read_array_from` accepts: Arrow's full
    /// validation passes, and it has the type, rows and nulls the header
    /// and the caller say.
    fn check_accepted(
        memory: &[u8],
        at: usize,
        nrows: Option<usize>,
        returns: WasmType,
        array: &ArrayRef,
    ) -> Result<(), TestCaseError> {
        let data = array.to_data();
        if let Err(e) = data.validate_full() {
            return Err(TestCaseError::fail(format!(
                "accepted an array Arrow refuses: {e}"
            )));
        }
        prop_assert_eq!(array.data_type(), &returns.data_type());
        let header = ArrowArray::from_le_bytes(guest_bytes(memory, at).unwrap());
        prop_assert_eq!(array.len() as i64, header.length);
        if let Some(nrows) = nrows {
            prop_assert_eq!(array.len(), nrows);
        }
        let null_count = header.null_count;
        if null_count != -1 {
            prop_assert_eq!(array.null_count() as i64, null_count);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(crate::fuzz::config(1000))]

        /// A valid result, wherever it lies in memory, is accepted as it is.
        #[test]
        fn fuzz_read_array_accepts_valid_results(
            array in guest_arrays(),
            lead in 0usize..40,
            gaps in vec(0usize..12, 5),
            unknown_nulls: bool,
            seed: u64,
            unknown_rows: bool,
        ) {
            let (memory, at, _) = array.place(lead, &gaps, unknown_nulls, seed);
            let nrows = (!unknown_rows).then_some(array.nrows);
            let read = read_array_from(&memory, at, nrows, array.returns);
            let read = read.map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;
            check_accepted(&memory, at, nrows, array.returns, &read)?;
            prop_assert_eq!(read.to_data(), array.expected());
        }

        /// Broken results (bad header fields, pointers, offsets, bytes,
        /// memory too short) never panic the host, and whatever is
        /// accepted is a valid array of the right type and length.
        #[test]
        fn fuzz_read_array_refuses_broken_results(
            array in guest_arrays(),
            lead in 0usize..40,
            gaps in vec(0usize..12, 5),
            unknown_nulls: bool,
            seed: u64,
            rows in rows(),
            broken in vec(mutations(), 1..5),
            header_from_end in proptest::option::weighted(0.1, 0usize..80),
        ) {
            let (mut memory, mut at, pointers) = array.place(lead, &gaps, unknown_nulls, seed);
            for mutation in &broken {
                mutation.apply(&mut memory, at, &pointers, &array);
            }
            if let Some(back) = header_from_end {
                at = memory.len().saturating_sub(back);
            }
            let nrows = rows.resolve(array.nrows);
            if let Ok(read) = read_array_from(&memory, at, nrows, array.returns) {
                check_accepted(&memory, at, nrows, array.returns, &read)?;
            }
        }
    }
}
