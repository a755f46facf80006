//! Result formats. Every printer streams: it writes each batch as it arrives
//! (the grid formats size their columns from the first rows), so a large
//! result never has to fit in memory before the first row prints.

use std::io::{self, Write};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::{LineDelimitedWriter, WriterBuilder as JsonWriterBuilder};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned ASCII table.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// Tab-separated values with a header line.
    Tsv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    /// One `column | value` line per field, records one after another.
    Vertical,
}

impl Format {
    /// All formats, in the order `\format` lists them.
    pub const ALL: [Format; 7] = [
        Format::Table,
        Format::Csv,
        Format::Tsv,
        Format::Json,
        Format::Ndjson,
        Format::Markdown,
        Format::Vertical,
    ];

    /// The format's name as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Markdown => "markdown",
            Format::Vertical => "vertical",
        }
    }

    /// Parses a format name.
    pub fn parse(name: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown format '{}': use one of {}",
                    name.trim(),
                    names.join(", ")
                )
            })
    }

    /// Formats meant for people; row counts and timings follow them on the
    /// same output. Machine formats keep their output clean.
    pub fn is_for_people(self) -> bool {
        matches!(self, Format::Table | Format::Markdown | Format::Vertical)
    }
}

/// Writes the rows of one result in one format.
pub trait Printer {
    /// Writes one batch of rows.
    fn batch(&mut self, out: &mut dyn Write, batch: &RecordBatch) -> io::Result<()>;
    /// Ends the result; returns how many rows were left out by a row limit.
    fn finish(&mut self, out: &mut dyn Write) -> io::Result<usize>;
}

/// What table output has to fit in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Screen {
    /// Characters a line may take; `None`: no limit.
    pub width: Option<usize>,
    /// Output goes to a terminal: long values are cut with `…`. Files and
    /// pipes get full values.
    pub terminal: bool,
}

impl Screen {
    /// The screen of output that is (or is not) a terminal: the terminal's
    /// width, or the `COLUMNS` environment variable when set.
    pub fn detect(terminal: bool) -> Screen {
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0);
        let width = columns.or_else(|| {
            terminal
                .then(terminal_size::terminal_size)
                .flatten()
                .map(|(width, _)| usize::from(width.0))
        });
        Screen { width, terminal }
    }
}

/// A printer for `format`. `maxrows` limits table output (`None`: no limit);
/// table output fits `screen`. `EXPLAIN` results print as text in the
/// formats for people.
pub fn printer(
    format: Format,
    schema: SchemaRef,
    maxrows: Option<usize>,
    screen: Screen,
) -> Box<dyn Printer> {
    if format.is_for_people() && is_plan(&schema) {
        return Box::new(PlanPrinter);
    }
    match format {
        Format::Table => Box::new(GridPrinter::new(schema, GridStyle::Table, maxrows, screen)),
        Format::Markdown => Box::new(GridPrinter::new(
            schema,
            GridStyle::Markdown,
            None,
            Screen::default(),
        )),
        Format::Csv => Box::new(DelimitedPrinter::new(schema, b',')),
        Format::Tsv => Box::new(DelimitedPrinter::new(schema, b'\t')),
        Format::Json => Box::new(JsonPrinter::new(true)),
        Format::Ndjson => Box::new(JsonPrinter::new(false)),
        Format::Vertical => Box::new(VerticalPrinter::new(schema)),
    }
}

fn to_io(e: ArrowError) -> io::Error {
    io::Error::other(e)
}

/// Formats every cell of a batch as text, row by row.
fn format_rows(batch: &RecordBatch) -> io::Result<Vec<Vec<String>>> {
    Ok(raw_rows(batch)?
        .into_iter()
        .map(|row| row.iter().map(|cell| escape_cell(cell)).collect())
        .collect())
}

/// Formats every cell of a batch as text as it is, line breaks included.
fn raw_rows(batch: &RecordBatch) -> io::Result<Vec<Vec<String>>> {
    let options = FormatOptions::default()
        .with_null("NULL")
        .with_display_error(true);
    let formatters = batch
        .columns()
        .iter()
        .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(to_io)?;
    Ok((0..batch.num_rows())
        .map(|row| {
            formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect()
        })
        .collect())
}

/// Keeps a cell on one line.
fn escape_cell(text: &str) -> String {
    if text.contains(['\n', '\r', '\t']) {
        text.replace('\n', "\\n")
            .replace('\r', "\\r")
            .replace('\t', "\\t")
    } else {
        text.to_string()
    }
}

/// Cuts `text` to `width` columns, ending it with `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// True for the result of `EXPLAIN`: `plan_type` and `plan` text columns.
fn is_plan(schema: &SchemaRef) -> bool {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    names == ["plan_type", "plan"]
        && schema.fields().iter().all(|f| {
            matches!(
                f.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            )
        })
}

/// `EXPLAIN` output for people: each plan's type, then its lines as they
/// are (indented), like datafusion-cli and DuckDB print plans.
struct PlanPrinter;

impl Printer for PlanPrinter {
    fn batch(&mut self, out: &mut dyn Write, batch: &RecordBatch) -> io::Result<()> {
        for row in raw_rows(batch)? {
            if let [plan_type, plan] = row.as_slice() {
                writeln!(out, "{plan_type}:")?;
                for line in plan.trim_end().lines() {
                    writeln!(out, "  {line}")?;
                }
                writeln!(out)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut dyn Write) -> io::Result<usize> {
        Ok(0)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GridStyle {
    Table,
    Markdown,
}

/// Rows buffered before column widths are fixed and printing starts.
const GRID_SIZING_ROWS: usize = 1000;

/// The narrowest a column is cut to on a terminal.
const MIN_WIDTH: usize = 8;

/// The columns a grid shows and how wide they are.
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    /// Shown columns in order; `None` is the `…` column standing for the
    /// elided ones.
    slots: Vec<Option<usize>>,
    widths: Vec<usize>,
}

/// The width of a table with columns `widths`: `| a | b |`.
fn table_width(widths: impl Iterator<Item = usize>) -> usize {
    1 + widths.map(|w| w + 3).sum::<usize>()
}

/// Fits columns of `natural` widths in `screen`: on a terminal long values
/// are cut first; then middle columns are elided, keeping columns from both
/// ends while they fit (at least one).
fn fit(natural: &[usize], screen: Screen) -> Layout {
    let all = |widths: Vec<usize>| Layout {
        slots: (0..widths.len()).map(Some).collect(),
        widths,
    };
    let Some(room) = screen.width else {
        return all(natural.to_vec());
    };
    let capped = |cap: usize| natural.iter().map(move |&w| w.min(cap));
    if table_width(natural.iter().copied()) <= room {
        return all(natural.to_vec());
    }
    if screen.terminal && table_width(capped(MIN_WIDTH)) <= room {
        // The widest cap that fits.
        let (mut low, mut high) = (MIN_WIDTH, natural.iter().copied().max().unwrap_or(0));
        while low < high {
            let mid = (low + high).div_ceil(2);
            if table_width(capped(mid)) <= room {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        return all(capped(low).collect());
    }
    let widths: Vec<usize> = if screen.terminal {
        capped(MIN_WIDTH).collect()
    } else {
        natural.to_vec()
    };
    // Columns `..left` and `right..` are shown; take them from each end in
    // turn.
    let (mut left, mut right) = (0, widths.len());
    // The border and the `…` column.
    let mut used = table_width(std::iter::once(1));
    while left < right {
        let from_left = left <= widths.len() - right;
        let i = if from_left { left } else { right - 1 };
        if left > 0 && used + widths[i] + 3 > room {
            break;
        }
        used += widths[i] + 3;
        if from_left {
            left += 1;
        } else {
            right -= 1;
        }
    }
    let slots: Vec<Option<usize>> = (0..left)
        .map(Some)
        .chain(std::iter::once(None))
        .chain((right..widths.len()).map(Some))
        .collect();
    let widths = slots
        .iter()
        .map(|slot| slot.map_or(1, |i| widths[i]))
        .collect();
    Layout { slots, widths }
}

/// Table and Markdown output. Column widths come from the first rows. On a
/// terminal, later values that are longer are cut with `…`; elsewhere the
/// table closes and starts again with a new header as wide as they need,
/// so no row breaks its border and output still streams.
struct GridPrinter {
    style: GridStyle,
    headers: Vec<String>,
    right_align: Vec<bool>,
    maxrows: Option<usize>,
    screen: Screen,
    pending: Vec<Vec<String>>,
    layout: Option<Layout>,
    shown: usize,
    hidden: usize,
}

impl GridPrinter {
    fn new(schema: SchemaRef, style: GridStyle, maxrows: Option<usize>, screen: Screen) -> Self {
        GridPrinter {
            style,
            headers: schema
                .fields()
                .iter()
                .map(|f| escape_cell(f.name()))
                .collect(),
            right_align: schema
                .fields()
                .iter()
                .map(|f| f.data_type().is_numeric())
                .collect(),
            maxrows,
            screen,
            pending: Vec::new(),
            layout: None,
            shown: 0,
            hidden: 0,
        }
    }

    fn sizing_rows(&self) -> usize {
        self.maxrows
            .map_or(GRID_SIZING_ROWS, |m| m.min(GRID_SIZING_ROWS))
    }

    /// Fixes the columns and widths from the pending rows, prints the header
    /// and the pending rows.
    fn start(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.pending {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.width());
            }
        }
        if self.style == GridStyle::Markdown {
            widths.iter_mut().for_each(|w| *w = (*w).max(3));
        }
        self.layout = Some(fit(&widths, self.screen));
        self.header(out)?;
        let pending = std::mem::take(&mut self.pending);
        self.rows(out, &pending)
    }

    /// The cells of `row` in the shown columns.
    fn project<'a>(&self, row: &'a [String]) -> Vec<&'a str> {
        let layout = self.layout.as_ref().map_or(&[][..], |l| &l.slots[..]);
        layout
            .iter()
            .map(|slot| slot.map_or("…", |i| row[i].as_str()))
            .collect()
    }

    fn header(&self, out: &mut dyn Write) -> io::Result<()> {
        let Some(layout) = &self.layout else {
            return Ok(());
        };
        self.border(out)?;
        self.row(out, &self.project(&self.headers), false)?;
        match self.style {
            GridStyle::Table => self.border(out),
            GridStyle::Markdown => {
                let line: Vec<String> = layout
                    .widths
                    .iter()
                    .zip(&layout.slots)
                    .map(|(w, slot)| {
                        if slot.is_some_and(|i| self.right_align[i]) {
                            format!("{}:", "-".repeat(w + 1))
                        } else {
                            "-".repeat(w + 2)
                        }
                    })
                    .collect();
                writeln!(out, "|{}|", line.join("|"))
            }
        }
    }

    /// Prints rows; on a table not on a terminal, first widens the columns
    /// (under a new header) when a row needs it.
    fn rows(&mut self, out: &mut dyn Write, rows: &[Vec<String>]) -> io::Result<()> {
        if self.style == GridStyle::Table && !self.screen.terminal {
            let mut wider = false;
            let mut widths = self
                .layout
                .as_ref()
                .map(|l| l.widths.clone())
                .unwrap_or_default();
            for row in rows {
                for (width, cell) in widths.iter_mut().zip(self.project(row)) {
                    if cell.width() > *width {
                        *width = cell.width();
                        wider = true;
                    }
                }
            }
            if wider {
                self.border(out)?;
                if let Some(layout) = &mut self.layout {
                    layout.widths = widths;
                }
                self.header(out)?;
            }
        }
        for row in rows {
            self.row(out, &self.project(row), true)?;
        }
        Ok(())
    }

    fn border(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.style == GridStyle::Table
            && let Some(layout) = &self.layout
        {
            let dashes: Vec<String> = layout.widths.iter().map(|w| "-".repeat(w + 2)).collect();
            writeln!(out, "+{}+", dashes.join("+"))?;
        }
        Ok(())
    }

    /// Prints one line of cells; numbers align right in data rows.
    fn row(&self, out: &mut dyn Write, cells: &[&str], data: bool) -> io::Result<()> {
        let Some(layout) = &self.layout else {
            return Ok(());
        };
        let mut line = String::from("|");
        for ((cell, width), slot) in cells.iter().zip(&layout.widths).zip(&layout.slots) {
            let cell = if self.screen.terminal {
                cut(cell, *width)
            } else {
                cell.to_string()
            };
            let pad = " ".repeat(width.saturating_sub(cell.width()));
            if data && slot.is_some_and(|i| self.right_align[i]) {
                line.push_str(&format!(" {pad}{cell} |"));
            } else {
                line.push_str(&format!(" {cell}{pad} |"));
            }
        }
        writeln!(out, "{line}")
    }
}

impl Printer for GridPrinter {
    fn batch(&mut self, out: &mut dyn Write, batch: &RecordBatch) -> io::Result<()> {
        let limit = self.maxrows.unwrap_or(usize::MAX);
        let room = limit.saturating_sub(self.shown);
        let take = batch.num_rows().min(room);
        self.hidden += batch.num_rows() - take;
        if take == 0 {
            return Ok(());
        }
        let mut rows = format_rows(&batch.slice(0, take))?;
        if self.style == GridStyle::Markdown {
            rows.iter_mut()
                .flatten()
                .for_each(|cell| *cell = cell.replace('|', "\\|"));
        }
        self.shown += take;
        if self.layout.is_none() {
            self.pending.extend(rows);
            if self.pending.len() >= self.sizing_rows() {
                self.start(out)?;
            }
            return Ok(());
        }
        self.rows(out, &rows)
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<usize> {
        if self.layout.is_none() {
            self.start(out)?;
        }
        self.border(out)?;
        if let Some(layout) = &self.layout {
            let shown = layout.slots.iter().flatten().count();
            if shown < self.headers.len() {
                writeln!(
                    out,
                    "{} columns ({shown} shown, \\format vertical or --format vertical shows all)",
                    self.headers.len()
                )?;
            }
        }
        Ok(self.hidden)
    }
}

/// CSV and TSV output.
struct DelimitedPrinter {
    schema: SchemaRef,
    delimiter: u8,
    header_written: bool,
}

impl DelimitedPrinter {
    fn new(schema: SchemaRef, delimiter: u8) -> Self {
        DelimitedPrinter {
            schema,
            delimiter,
            header_written: false,
        }
    }
}

impl Printer for DelimitedPrinter {
    fn batch(&mut self, out: &mut dyn Write, batch: &RecordBatch) -> io::Result<()> {
        // Encode into a buffer: the CSV writer turns I/O errors into text,
        // which would hide a closed pipe from the caller.
        let mut encoded = Vec::new();
        CsvWriterBuilder::new()
            .with_header(!self.header_written)
            .with_delimiter(self.delimiter)
            .build(&mut encoded)
            .write(batch)
            .map_err(to_io)?;
        self.header_written = true;
        out.write_all(&encoded)
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<usize> {
        if !self.header_written {
            self.batch(out, &RecordBatch::new_empty(self.schema.clone()))?;
        }
        Ok(0)
    }
}

/// JSON (one array) and NDJSON (one object a line) output.
struct JsonPrinter {
    array: bool,
    rows: usize,
}

impl JsonPrinter {
    fn new(array: bool) -> Self {
        JsonPrinter { array, rows: 0 }
    }
}

impl Printer for JsonPrinter {
    fn batch(&mut self, out: &mut dyn Write, batch: &RecordBatch) -> io::Result<()> {
        let mut lines = Vec::new();
        let mut writer: LineDelimitedWriter<&mut Vec<u8>> = JsonWriterBuilder::new()
            .with_explicit_nulls(true)
            .build(&mut lines);
        writer.write(batch).map_err(to_io)?;
        writer.finish().map_err(to_io)?;
        drop(writer);
        if !self.array {
            return out.write_all(&lines);
        }
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            out.write_all(if self.rows == 0 { b"[\n  " } else { b",\n  " })?;
            out.write_all(line)?;
            self.rows += 1;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<usize> {
        if self.array {
            out.write_all(if self.rows == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        Ok(0)
    }
}

/// Vertical output: a header per record, then `column | value` lines.
struct VerticalPrinter {
    headers: Vec<String>,
    label_width: usize,
    record: usize,
}

impl VerticalPrinter {
    fn new(schema: SchemaRef) -> Self {
        let headers: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| escape_cell(f.name()))
            .collect();
        let label_width = headers.iter().map(|h| h.width()).max().unwrap_or(0);
        VerticalPrinter {
            headers,
            label_width,
            record: 0,
        }
    }
}

impl Printer for VerticalPrinter {
    fn batch(&mut self, out: &mut dyn Write, batch: &RecordBatch) -> io::Result<()> {
        for row in format_rows(batch)? {
            self.record += 1;
            writeln!(
                out,
                "-[ RECORD {} ]{}",
                self.record,
                "-".repeat(self.label_width.max(4))
            )?;
            for (header, cell) in self.headers.iter().zip(row) {
                let pad = " ".repeat(self.label_width - header.width());
                writeln!(out, "{header}{pad} | {cell}")?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut dyn Write) -> io::Result<usize> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn sample() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), Some(22), None])),
                Arc::new(StringArray::from(vec![
                    Some("a,b"),
                    None,
                    Some("line\nbreak"),
                ])),
            ],
        )
        .unwrap()
    }

    fn render(format: Format, maxrows: Option<usize>, batches: &[RecordBatch]) -> (String, usize) {
        let schema = sample().schema();
        let mut printer = printer(format, schema, maxrows, Screen::default());
        let mut out = Vec::new();
        for batch in batches {
            printer.batch(&mut out, batch).unwrap();
        }
        let hidden = printer.finish(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), hidden)
    }

    #[test]
    fn table_aligns_and_marks_nulls() {
        let (text, hidden) = render(Format::Table, None, &[sample()]);
        assert_eq!(hidden, 0);
        let expected = "\
+------+-------------+
| id   | name        |
+------+-------------+
|    1 | a,b         |
|   22 | NULL        |
| NULL | line\\nbreak |
+------+-------------+
";
        assert_eq!(text, expected);
    }

    #[test]
    fn table_respects_maxrows_across_batches() {
        let (text, hidden) = render(Format::Table, Some(4), &[sample(), sample()]);
        assert_eq!(hidden, 2);
        assert_eq!(text.lines().filter(|l| l.starts_with("|")).count(), 5);
    }

    #[test]
    fn csv_quotes_and_keeps_header_for_empty_results() {
        let (text, _) = render(Format::Csv, None, &[sample()]);
        assert_eq!(text, "id,name\n1,\"a,b\"\n22,\n,\"line\nbreak\"\n");
        let (empty, _) = render(Format::Csv, None, &[]);
        assert_eq!(empty, "id,name\n");
    }

    #[test]
    fn json_is_one_array_across_batches() {
        let (text, _) = render(Format::Json, None, &[sample(), sample()]);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), 6);
        assert_eq!(parsed[1]["name"], serde_json::Value::Null);
        assert_eq!(parsed[2]["name"], "line\nbreak");
        let (empty, _) = render(Format::Json, None, &[]);
        assert_eq!(empty, "[]\n");
    }

    #[test]
    fn fit_cuts_long_values_on_a_terminal_only() {
        let terminal = Screen {
            width: Some(30),
            terminal: true,
        };
        let layout = fit(&[4, 40], terminal);
        assert_eq!(layout.slots, vec![Some(0), Some(1)]);
        assert_eq!(table_width(layout.widths.iter().copied()), 30);
        let pipe = Screen {
            width: Some(30),
            terminal: false,
        };
        // Without cutting, the wide column cannot fit: it is elided.
        assert_eq!(fit(&[4, 40], pipe).slots, vec![Some(0), None]);
        assert_eq!(fit(&[4, 40], Screen::default()).widths, vec![4, 40]);
    }

    #[test]
    fn fit_elides_middle_columns() {
        let pipe = Screen {
            width: Some(25),
            terminal: false,
        };
        let layout = fit(&[3; 10], pipe);
        assert_eq!(layout.slots, vec![Some(0), Some(1), None, Some(9)]);
        assert!(table_width(layout.widths.iter().copied()) <= 25);
    }

    #[test]
    fn cut_ends_with_an_ellipsis() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abcd", 4), "abcd");
        assert_eq!(cut("名名名", 4), "名…");
    }

    #[test]
    fn later_wider_rows_start_a_wider_table() {
        let schema = sample().schema();
        let mut printer = GridPrinter::new(schema, GridStyle::Table, None, Screen::default());
        let mut out = Vec::new();
        printer.pending = vec![vec!["1".into(), "a".into()]; GRID_SIZING_ROWS];
        printer.start(&mut out).unwrap();
        printer.batch(&mut out, &sample()).unwrap();
        printer.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut width = 0;
        for line in text.lines() {
            if line.starts_with('+') {
                width = line.width();
            }
            assert_eq!(line.width(), width, "{text}");
        }
        assert_eq!(
            text.lines().filter(|l| l.starts_with('+')).count(),
            6,
            "{text}"
        );
    }

    #[test]
    fn plans_print_as_lines() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("plan_type", DataType::Utf8, false),
            Field::new("plan", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["logical_plan"])),
                Arc::new(StringArray::from(vec!["Projection: a\n  EmptyRelation\n"])),
            ],
        )
        .unwrap();
        let mut printer = printer(Format::Table, schema, None, Screen::default());
        let mut out = Vec::new();
        printer.batch(&mut out, &batch).unwrap();
        printer.finish(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "logical_plan:\n  Projection: a\n    EmptyRelation\n\n"
        );
    }
}
