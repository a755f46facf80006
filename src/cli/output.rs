//! Result formats. Every printer streams: it writes each batch as it arrives
//! (the grid formats size their columns from the first rows), so a large
//! result never has to fit in memory before the first row prints.

use std::io::{self, Write};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::{LineDelimitedWriter, WriterBuilder as JsonWriterBuilder};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use unicode_width::UnicodeWidthStr;

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

/// A printer for `format`. `maxrows` limits table output (`None`: no limit).
pub fn printer(format: Format, schema: SchemaRef, maxrows: Option<usize>) -> Box<dyn Printer> {
    match format {
        Format::Table => Box::new(GridPrinter::new(schema, GridStyle::Table, maxrows)),
        Format::Markdown => Box::new(GridPrinter::new(schema, GridStyle::Markdown, None)),
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
                .map(|f| escape_cell(&f.value(row).to_string()))
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum GridStyle {
    Table,
    Markdown,
}

/// Rows buffered before column widths are fixed and printing starts.
const GRID_SIZING_ROWS: usize = 1000;

/// Table and Markdown output.
struct GridPrinter {
    style: GridStyle,
    headers: Vec<String>,
    right_align: Vec<bool>,
    maxrows: Option<usize>,
    pending: Vec<Vec<String>>,
    widths: Option<Vec<usize>>,
    shown: usize,
    hidden: usize,
}

impl GridPrinter {
    fn new(schema: SchemaRef, style: GridStyle, maxrows: Option<usize>) -> Self {
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
            pending: Vec::new(),
            widths: None,
            shown: 0,
            hidden: 0,
        }
    }

    fn sizing_rows(&self) -> usize {
        self.maxrows
            .map_or(GRID_SIZING_ROWS, |m| m.min(GRID_SIZING_ROWS))
    }

    /// Fixes the column widths from the pending rows and prints the header.
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
        self.widths = Some(widths);
        self.border(out)?;
        let headers = std::mem::take(&mut self.headers);
        self.row(out, &headers, &vec![false; headers.len()])?;
        self.headers = headers;
        match self.style {
            GridStyle::Table => self.border(out)?,
            GridStyle::Markdown => {
                let widths = self.widths.as_deref().unwrap_or_default();
                let line: Vec<String> = widths
                    .iter()
                    .zip(&self.right_align)
                    .map(|(w, right)| {
                        if *right {
                            format!("{}:", "-".repeat(w + 1))
                        } else {
                            "-".repeat(w + 2)
                        }
                    })
                    .collect();
                writeln!(out, "|{}|", line.join("|"))?;
            }
        }
        for row in std::mem::take(&mut self.pending) {
            self.row(out, &row, &self.right_align.clone())?;
        }
        Ok(())
    }

    fn border(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.style == GridStyle::Table {
            let widths = self.widths.as_deref().unwrap_or_default();
            let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            writeln!(out, "+{}+", dashes.join("+"))?;
        }
        Ok(())
    }

    fn row(&self, out: &mut dyn Write, cells: &[String], right: &[bool]) -> io::Result<()> {
        let widths = self.widths.as_deref().unwrap_or_default();
        let mut line = String::from("|");
        for ((cell, width), right) in cells.iter().zip(widths).zip(right) {
            let pad = " ".repeat(width.saturating_sub(cell.width()));
            if *right {
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
        if self.widths.is_none() {
            self.pending.extend(rows);
            if self.pending.len() >= self.sizing_rows() {
                self.start(out)?;
            }
            return Ok(());
        }
        let right = self.right_align.clone();
        for row in rows {
            self.row(out, &row, &right)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<usize> {
        if self.widths.is_none() {
            self.start(out)?;
        }
        self.border(out)?;
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
        let mut printer = printer(format, schema, maxrows);
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
}
