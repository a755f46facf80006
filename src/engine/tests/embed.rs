//! The embedding example of the README runs and returns the UDF's result.

#[path = "../examples/embed.rs"]
#[allow(dead_code)] // the example's `main`: the test calls `run`.
mod embed;

#[tokio::test]
async fn embedding_example_runs_sql_with_a_udf_directory() {
    let udf_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../udfs/dist");
    let table = embed::run(udf_dir, "SELECT slugify('Hi, World!') AS s")
        .await
        .expect("the example runs");
    assert!(table.contains("| hi-world |"), "{table}");
}
