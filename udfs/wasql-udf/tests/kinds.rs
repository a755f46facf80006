//! `#[udf]` on aggregates and table functions, run on the host: the
//! generated row and part loops and the description lines.

use wasql_udf::{
    Accumulator, Aggregate, ArrayData, ArrayView, BinaryBuilder, Bitmap, DataType, Emitter,
    PrimitiveBuilder, Rows, StringBuilder, udf,
};

#[derive(Default, Debug, PartialEq)]
struct WeightedSum {
    sum: i64,
    rows: u64,
}

/// The weighted sum and the rows seen, weight NULL counting as 1.
#[udf(volatility = "stable")]
impl Aggregate for WeightedSum {
    type Args<'a> = (i64, Option<i64>);
    type Output = Result<i64, String>;

    fn update(&mut self, (x, w): (i64, Option<i64>)) {
        self.sum += x * w.unwrap_or(1);
        self.rows += 1;
    }

    fn merge(&mut self, other: Self) {
        self.sum += other.sum;
        self.rows += other.rows;
    }

    fn finish(self) -> Result<i64, String> {
        if self.sum < 0 {
            return Err("negative".into());
        }
        Ok(self.sum)
    }

    fn save(&self) -> impl AsRef<[u8]> {
        format!("{} {}", self.sum, self.rows)
    }

    fn load(state: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(state).map_err(|e| e.to_string())?;
        let (sum, rows) = text.split_once(' ').ok_or("no space")?;
        Ok(WeightedSum {
            sum: sum.parse().map_err(|_| "bad sum")?,
            rows: rows.parse().map_err(|_| "bad rows")?,
        })
    }
}

#[derive(Default)]
struct Longest(String);

/// Longest string.
#[udf(name = "longest")]
impl Aggregate for Longest {
    type Args<'a> = &'a str;
    type Output = Option<String>;

    fn update(&mut self, s: &str) {
        if s.len() > self.0.len() {
            self.0 = s.to_owned();
        }
    }

    fn merge(&mut self, other: Self) {
        self.update(&other.0);
    }

    fn finish(self) -> Option<String> {
        (!self.0.is_empty()).then_some(self.0)
    }

    fn save(&self) -> impl AsRef<[u8]> {
        self.0.clone()
    }

    fn load(state: &[u8]) -> Result<Self, String> {
        String::from_utf8(state.to_vec())
            .map(Longest)
            .map_err(|e| e.to_string())
    }
}

/// Words of a line, numbered.
#[udf(table, columns = ["word", "n"])]
fn words(line: &str, out: &mut Emitter<(String, i32)>) {
    for (i, w) in line.split(' ').filter(|w| !w.is_empty()).enumerate() {
        out.emit((w, i as i32 + 1));
    }
}

/// Fails on "bad".
#[udf(table, name = "checked", columns = ["x"], volatility = "volatile")]
fn checked_rows(s: Option<&str>, n: i64, out: &mut Emitter<(Option<i64>,)>) -> Result<(), String> {
    match s {
        Some("bad") => Err("bad row".into()),
        Some(_) => {
            out.emit((Some(n),));
            Ok(())
        }
        None => {
            out.emit((None,));
            Ok(())
        }
    }
}

/// Sum and count of a partition.
#[udf(table, partitioned, columns = ["label", "total", "rows"])]
fn totals(
    label: Rows<'_, &str>,
    x: Rows<i64>,
    out: &mut Emitter<(String, i64, u32)>,
) -> Result<(), String> {
    let total = x.iter().flatten().sum();
    out.emit((label.get(0).unwrap_or("?"), total, x.len() as u32));
    Ok(())
}

fn section(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

fn ints(values: &[Option<i64>]) -> ArrayData {
    let mut b = PrimitiveBuilder::<i64>::with_capacity(values.len());
    for v in values {
        b.push_option(*v);
    }
    b.finish()
}

fn strings(values: &[Option<&str>]) -> ArrayData {
    let mut b = StringBuilder::with_capacity(values.len(), 0);
    for v in values {
        b.push_option(*v);
    }
    b.finish()
}

fn read_ints(view: &ArrayView<'_>) -> Vec<Option<i64>> {
    (0..view.len())
        .map(|i| view.is_valid(i).then(|| view.values::<i64>()[i]))
        .collect()
}

fn read_strs(view: &ArrayView<'_>) -> Vec<Option<String>> {
    (0..view.len())
        .map(|i| view.is_valid(i).then(|| view.str_value(i).to_owned()))
        .collect()
}

#[test]
fn descriptions() {
    assert_eq!(
        section(&__WASQL_UDF_SECTION_WeightedSum),
        "{\"abi\":1,\"name\":\"weighted_sum\",\"kind\":\"aggregate\",\"export\":\"wasql_agg_weighted_sum\",\
         \"args\":[\"int64\",\"int64\"],\"returns\":\"int64\",\"volatility\":\"stable\",\
         \"capabilities\":[],\"doc\":\"The weighted sum and the rows seen, weight NULL counting as 1.\"}\n"
    );
    assert!(
        section(&__WASQL_UDF_SECTION_Longest)
            .starts_with("{\"abi\":1,\"name\":\"longest\",\"kind\":\"aggregate\",\"export\":\"wasql_agg_longest\",\"args\":[\"utf8\"],\"returns\":\"utf8\",")
    );
    assert_eq!(
        section(&__WASQL_UDF_SECTION_words),
        "{\"abi\":1,\"name\":\"words\",\"kind\":\"table\",\"export\":\"wasql_table_words\",\
         \"args\":[\"utf8\"],\"columns\":[{\"name\":\"word\",\"type\":\"utf8\"},{\"name\":\"n\",\"type\":\"int32\"}],\
         \"volatility\":\"immutable\",\"capabilities\":[],\"doc\":\"Words of a line, numbered.\"}\n"
    );
    assert!(section(&__WASQL_UDF_SECTION_checked_rows).starts_with(
        "{\"abi\":1,\"name\":\"checked\",\"kind\":\"table\",\"export\":\"wasql_table_checked\",\
         \"args\":[\"utf8\",\"int64\"],\"columns\":[{\"name\":\"x\",\"type\":\"int64\"}],\"volatility\":\"volatile\""
    ));
    assert!(section(&__WASQL_UDF_SECTION_totals).contains(
        "\"args\":[\"utf8\",\"int64\"],\"columns\":[{\"name\":\"label\",\"type\":\"utf8\"},\
         {\"name\":\"total\",\"type\":\"int64\"},{\"name\":\"rows\",\"type\":\"uint32\"}],\"partitioned\":true,"
    ));
}

#[test]
fn aggregate_rows_skip_nulls_of_plain_arguments() {
    let x = ints(&[Some(1), None, Some(3), Some(4)]);
    let w = ints(&[Some(10), Some(10), None, Some(2)]);
    let mut acc = Accumulator::<WeightedSum>::default();
    acc.update(&[x.view(), w.view()], &[0, 0, 1, 0], 2).unwrap();
    assert_eq!(acc.groups()[0], WeightedSum { sum: 18, rows: 2 });
    assert_eq!(acc.groups()[1], WeightedSum { sum: 3, rows: 1 });

    // Dense: no nulls anywhere.
    let (x, w) = (ints(&[Some(-5)]), ints(&[Some(1)]));
    acc.update(&[x.view(), w.view()], &[2], 3).unwrap();
    let states = acc.state(1).unwrap();
    assert_eq!(states.view().bytes_value(0), b"18 2");
    let err = acc.finish(2).unwrap_err();
    assert_eq!(err, "negative");

    let mut merged = Accumulator::<WeightedSum>::default();
    merged.merge(&states.view(), &[0], 1).unwrap();
    let mut bad = BinaryBuilder::with_capacity(1, 0);
    bad.push(b"18");
    assert_eq!(
        merged.merge(&bad.finish().view(), &[0], 1).unwrap_err(),
        "invalid state in row 0: no space"
    );
    let result = merged.finish(1).unwrap();
    assert_eq!(read_ints(&result.view()), [Some(18)]);
}

#[test]
fn aggregate_of_strings() {
    let s = strings(&[Some("ab"), None, Some("abc"), Some("x")]);
    let mut acc = Accumulator::<Longest>::default();
    acc.update(&[s.view()], &[0, 1, 0, 1], 3).unwrap();
    let result = acc.finish(3).unwrap();
    assert_eq!(result.data_type(), DataType::Utf8);
    assert_eq!(
        read_strs(&result.view()),
        [Some("abc".into()), Some("x".into()), None]
    );
}

#[test]
fn table_rows_are_tagged_with_their_input_row() {
    let lines = strings(&[Some("a b"), None, Some(""), Some(" c  d e")]);
    let out = __wasql_udf_body_words(&[lines.view()], 4, &[0, 1, 2, 3, 4]).unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].view().values::<u32>(), &[0, 0, 3, 3, 3]);
    assert_eq!(
        read_strs(&out[1].view()),
        ["a", "b", "c", "d", "e"].map(|s| Some(s.to_string()))
    );
    assert_eq!(out[2].view().values::<i32>(), &[1, 2, 1, 2, 3]);

    let err = __wasql_udf_body_words(&[lines.view()], 4, &[0, 2, 1, 4]).unwrap_err();
    assert_eq!(err, "invalid part bounds for 4 rows");
    assert!(__wasql_udf_body_words(&[lines.view()], 4, &[0, 4, 5]).is_err());
}

#[test]
fn table_options_constants_and_errors() {
    let s = strings(&[Some("x"), None, Some("y")]);
    let n = ints(&[Some(7)]);
    let out = __wasql_udf_body_checked_rows(&[s.view(), n.view()], 3, &[0, 1, 2, 3]).unwrap();
    assert_eq!(out[0].view().values::<u32>(), &[0, 1, 2]);
    assert_eq!(read_ints(&out[1].view()), [Some(7), None, Some(7)]);

    let s = strings(&[Some("x"), Some("bad")]);
    let err = __wasql_udf_body_checked_rows(&[s.view(), n.view()], 2, &[0, 1, 2]).unwrap_err();
    assert_eq!(err, "bad row");
}

#[test]
fn partitions_arrive_whole() {
    let labels = strings(&[Some("a"), Some("a"), Some("b"), Some("c"), Some("c")]);
    let validity = Bitmap::from_iter([true, true, true, false, true]);
    let values = [1i64, 2, 3, 100, 5];
    let x = ArrayView::from_values(&values, Some(validity.as_ref()));
    let out = __wasql_udf_body_totals(&[labels.view(), x], 5, &[0, 2, 3, 5]).unwrap();
    assert_eq!(out[0].view().values::<u32>(), &[0, 1, 2]);
    assert_eq!(
        read_strs(&out[1].view()),
        ["a", "b", "c"].map(|s| Some(s.to_string()))
    );
    assert_eq!(read_ints(&out[2].view()), [Some(3), Some(3), Some(5)]);
    assert_eq!(out[3].view().values::<u32>(), &[2, 1, 2]);

    // No rows, no parts.
    let (labels, x) = (strings(&[]), ints(&[]));
    let out = __wasql_udf_body_totals(&[labels.view(), x.view()], 0, &[0]).unwrap();
    assert!(out.iter().all(ArrayData::is_empty));
}
