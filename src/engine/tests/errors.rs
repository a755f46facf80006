//! An embedder finds the engine's errors by type, not by reading messages:
//! a guest past its deadline or its memory cap, a refused module, a bad
//! store location.

use std::time::Duration;

use wasql_engine::config::Config;
use wasql_engine::error::{CallError, LimitExceeded, StoreError, StoreFailure, UdfError, find};
use wasql_engine::{Engine, EngineSettings};

const HOSTILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../udfs/dist/hostile");

fn engine() -> Engine {
    let config = Config::parse("[udf]\ntimeout_seconds = 0.5\nmemory_limit = \"32M\"\n")
        .expect("a valid config");
    Engine::new(&EngineSettings::from_config(&config).expect("valid settings")).expect("an engine")
}

async fn run(engine: &Engine, sql: &str) -> wasql_engine::datafusion::error::Result<()> {
    engine.prepare(sql).await?.collect().await.map(drop)
}

#[tokio::test]
async fn guest_failures_are_typed() {
    let engine = engine();
    for name in ["spin", "balloon"] {
        run(
            &engine,
            &format!("CREATE FUNCTION {name}() LANGUAGE wasm AS '{HOSTILE}/{name}.wasm#{name}'"),
        )
        .await
        .expect("the module registers");
    }

    let err = run(&engine, "SELECT spin(x) FROM generate_series(1, 2) t(x)")
        .await
        .expect_err("spin never returns");
    let Some(UdfError::Call {
        function, error, ..
    }) = find::<UdfError>(&err)
    else {
        panic!("not a call error: {err}");
    };
    assert_eq!(function, "spin");
    assert!(
        matches!(**error, CallError::Timeout(after) if after == Duration::from_millis(500)),
        "{error:?}"
    );

    let err = run(&engine, "SELECT balloon(x) FROM generate_series(1, 2) t(x)")
        .await
        .expect_err("balloon grows past its cap");
    let udf = find::<UdfError>(&err).expect("a UDF error");
    assert!(
        matches!(udf.limit(), Some(LimitExceeded::Memory { cap, .. }) if *cap == 32 << 20),
        "{udf:?}"
    );
}

#[tokio::test]
async fn refused_modules_and_locations_are_typed() {
    let engine = engine();
    let err = run(
        &engine,
        &format!("CREATE FUNCTION f() LANGUAGE wasm AS '{HOSTILE}/future_abi.wasm'"),
    )
    .await
    .expect_err("a module of a later ABI is refused");
    assert!(
        matches!(find::<UdfError>(&err), Some(UdfError::Load { module, .. }) if module.ends_with("future_abi.wasm")),
        "{err}"
    );

    let err = run(&engine, "SELECT * FROM 'ftp://host/data.csv'")
        .await
        .expect_err("ftp is not a store");
    assert!(
        matches!(
            find::<StoreError>(&err),
            Some(StoreError { failure: StoreFailure::UnsupportedScheme(scheme), .. }) if scheme == "ftp"
        ),
        "{err}"
    );
}
