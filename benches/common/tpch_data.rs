//! TPC-H data for the benchmarks and the cluster tests: the eight tables
//! generated with `tpchgen` at a scale factor, one Parquet file each; and
//! the statements of a query file.

// Each includer uses a part of it.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::record_batch::RecordBatchReader;
use datafusion::error::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow,
    SupplierArrow,
};

/// The eight tables, smallest first.
pub const TABLES: [&str; 8] = [
    "region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem",
];

/// A generator of the record batches of one table.
fn table_reader(table: &str, sf: f64) -> Box<dyn RecordBatchReader> {
    match table {
        "region" => Box::new(RegionArrow::new(RegionGenerator::new(sf, 1, 1))),
        "nation" => Box::new(NationArrow::new(NationGenerator::new(sf, 1, 1))),
        "supplier" => Box::new(SupplierArrow::new(SupplierGenerator::new(sf, 1, 1))),
        "customer" => Box::new(CustomerArrow::new(CustomerGenerator::new(sf, 1, 1))),
        "part" => Box::new(PartArrow::new(PartGenerator::new(sf, 1, 1))),
        "partsupp" => Box::new(PartSuppArrow::new(PartSuppGenerator::new(sf, 1, 1))),
        "orders" => Box::new(OrderArrow::new(OrderGenerator::new(sf, 1, 1))),
        "lineitem" => Box::new(LineItemArrow::new(LineItemGenerator::new(sf, 1, 1))),
        _ => unreachable!("unknown table {table}"),
    }
}

/// Writes `<table>.parquet` into `dir`, through a temporary name so that an
/// interrupted run leaves no file that looks complete.
fn write_table(dir: &Path, table: &str, sf: f64) -> Result<()> {
    let reader = table_reader(table, sf);
    let tmp = dir.join(format!("{table}.parquet.tmp"));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(File::create(&tmp)?, reader.schema(), Some(props))?;
    for batch in reader {
        writer.write(&batch?)?;
    }
    writer.close()?;
    std::fs::rename(&tmp, dir.join(format!("{table}.parquet")))?;
    Ok(())
}

/// The data directory of the benchmarks: `$WASQL_TPCH_DIR`, else
/// `~/.cache/wasql/tpch-sf<SF>`.
pub fn data_dir(sf: f64) -> PathBuf {
    if let Some(dir) = std::env::var_os("WASQL_TPCH_DIR") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").expect("HOME is not set");
    Path::new(&home)
        .join(".cache/wasql")
        .join(format!("tpch-sf{sf}"))
}

/// Generates the tables whose files are missing in `dir`, one thread per
/// table.
pub fn generate(dir: &Path, sf: f64) -> Result<()> {
    let missing: Vec<&str> = TABLES
        .into_iter()
        .filter(|table| !dir.join(format!("{table}.parquet")).exists())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    eprintln!("generating TPC-H SF{sf} {missing:?} into {}", dir.display());
    let start = Instant::now();
    std::thread::scope(|scope| {
        let threads: Vec<_> = missing
            .iter()
            .map(|table| scope.spawn(move || write_table(dir, table, sf)))
            .collect();
        threads
            .into_iter()
            .try_for_each(|thread| thread.join().expect("generator thread panicked"))
    })?;
    eprintln!("generated in {:.1?}", start.elapsed());
    Ok(())
}

/// Splits a query file into its statements (at every `;`, so the query
/// files keep `;` out of their comments).
pub fn statements(query: &str) -> Vec<&str> {
    query
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}
