//! How WASM functions travel in plans: by name, export, signature and the
//! module's sha256 — never by a path on the sender's disk.
//!
//! A receiver (the scheduler, an executor) uses the module it already has
//! with that digest; otherwise it takes the module's bytes from the
//! message, or from the scheduler's depot for a large one ([`Shipping`]),
//! checks that they hash to the digest, compiles them once (its
//! compiled-code cache helps on the next start) and keeps them. wasql's
//! own tables and operators travel here too (in-memory tables, series,
//! deep globs, table function calls); every other node, table and format
//! is left to Ballista's own codecs.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::functions_table::generate_series::GenerateSeriesTable;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};

use crate::table_calls::{self, APPLY_EXEC, APPLY_NODE, TABLE_CALL};
use crate::{deep_globs, depot, series};
use wasql_engine::DeepGlob;
use wasql_engine::apply::{ApplyExec, ApplyNode, TableCall};
use wasql_engine::udf::{
    FunctionSpec, UdfRegistry, WasmAggregateUdf, WasmFunction, WasmModule, WasmScalarUdf,
    WasmTableFunction, WasmUdf, sha256_hex,
};

/// A WASM function in a plan.
#[derive(Clone, PartialEq, Message)]
pub struct WasmFunctionRef {
    /// The name SQL calls it by.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The module's export that implements it.
    #[prost(string, tag = "2")]
    pub export: String,
    /// Its signature as the sender's module describes it (`f(utf8) ->
    /// utf8`): the receiver's module must describe the same.
    #[prost(string, tag = "3")]
    pub signature: String,
    /// Where the sender loaded the module from: for messages only.
    #[prost(string, tag = "4")]
    pub module: String,
    /// The hex sha256 of the module's bytes: what identifies the module.
    #[prost(string, tag = "5")]
    pub sha256: String,
    /// The module's bytes, for a receiver that does not have them; empty
    /// when they are to be fetched from `source`.
    #[prost(bytes = "vec", tag = "6")]
    pub bytes: Vec<u8>,
    /// Where a receiver without the module fetches its bytes (a depot's
    /// address, see [`crate::depot`]) when the plan does not carry them.
    #[prost(string, tag = "7")]
    pub source: String,
}

/// How a codec sends the modules of the functions it encodes.
#[derive(Debug, Clone)]
pub enum Shipping {
    /// Every module's bytes in the plan (the client to the scheduler).
    Inline,
    /// Small modules' bytes in the plan, large ones as their address at
    /// the depot `http://HOST:PORT` (the scheduler to executors).
    Depot(String),
}

impl WasmFunctionRef {
    /// The reference to `spec` of `module`, with the module's bytes or
    /// where to fetch them, as `shipping` says.
    pub(crate) fn new(
        module: &WasmModule,
        spec: &FunctionSpec,
        shipping: &Shipping,
    ) -> WasmFunctionRef {
        let (bytes, source) = match shipping {
            Shipping::Depot(depot) if module.bytes.len() > depot::INLINE_LIMIT => {
                (Vec::new(), depot::module_url(depot, &module.sha256))
            }
            _ => (module.bytes.to_vec(), String::new()),
        };
        WasmFunctionRef {
            name: spec.name.clone(),
            export: spec.export.clone(),
            signature: spec.signature(),
            module: module.path.display().to_string(),
            sha256: module.sha256.clone(),
            bytes,
            source,
        }
    }
}

/// Finds the modules plans name, by digest, in a process's UDF registry
/// (whose limits and network policy are this process's own).
pub struct Modules {
    registry: Arc<UdfRegistry>,
    /// Held while a shipped module is checked and loaded, so that tasks
    /// decoding the same module at once compile it once.
    loading: Mutex<()>,
}

impl fmt::Debug for Modules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Modules").finish_non_exhaustive()
    }
}

impl Modules {
    /// Modules resolved through `registry`.
    pub fn new(registry: Arc<UdfRegistry>) -> Arc<Modules> {
        Arc::new(Modules {
            registry,
            loading: Mutex::new(()),
        })
    }

    /// The function `reference` names, from the module with its digest.
    pub fn resolve(&self, reference: &WasmFunctionRef) -> Result<WasmFunction> {
        let module = self.module(reference)?;
        let found = module
            .functions
            .iter()
            .find(|f| f.export == reference.export)
            .ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "function {}: module {} (sha256 {}) has no export '{}'",
                    reference.name, reference.module, reference.sha256, reference.export
                ))
            })?;
        let spec = FunctionSpec {
            name: reference.name.clone(),
            ..found.clone()
        };
        if spec.signature() != reference.signature {
            return Err(DataFusionError::Plan(format!(
                "function {}: module {} describes it as {}, the plan as {}",
                reference.name,
                reference.module,
                spec.signature(),
                reference.signature
            )));
        }
        Ok(WasmFunction::new(&module, spec))
    }

    /// The table function `reference` names.
    pub(crate) fn table(&self, reference: &WasmFunctionRef) -> Result<Arc<WasmTableFunction>> {
        match self.resolve(reference)?.udf {
            WasmUdf::Table(function) => Ok(function),
            _ => Err(DataFusionError::Plan(format!(
                "function {}: the plan uses it as a table function, the module does not",
                reference.name
            ))),
        }
    }

    fn module(&self, reference: &WasmFunctionRef) -> Result<Arc<WasmModule>> {
        if let Some(module) = self.registry.by_digest(&reference.sha256) {
            return Ok(module);
        }
        let _loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(module) = self.registry.by_digest(&reference.sha256) {
            return Ok(module);
        }
        let bytes = match (reference.bytes.is_empty(), reference.source.is_empty()) {
            (false, _) => reference.bytes.clone(),
            (true, false) => {
                let started = std::time::Instant::now();
                let bytes = depot::fetch(&reference.source)?;
                log::info!(
                    "fetched module {} ({} bytes) from {} in {} ms",
                    reference.module,
                    bytes.len(),
                    reference.source,
                    started.elapsed().as_millis()
                );
                bytes
            }
            (true, true) => {
                return Err(DataFusionError::Plan(format!(
                    "function {}: module {} (sha256 {}) is not here and the plan does not carry it",
                    reference.name, reference.module, reference.sha256
                )));
            }
        };
        let digest = sha256_hex(&bytes);
        if digest != reference.sha256 {
            return Err(DataFusionError::Plan(format!(
                "function {}: the bytes shipped for module {} do not match its digest \
                 (the plan names sha256 {}, the bytes hash to {digest}): refused",
                reference.name, reference.module, reference.sha256
            )));
        }
        let module = self
            .registry
            .load_shipped(Path::new(&reference.module), bytes)?;
        Ok(module)
    }

    /// Decodes a scalar function: a WASM one if `buf` holds a reference,
    /// else what `other` decodes.
    fn scalar(
        &self,
        buf: &[u8],
        other: impl FnOnce() -> Result<Arc<ScalarUDF>>,
    ) -> Result<Arc<ScalarUDF>> {
        match self.function(buf)?.map(|f| f.udf) {
            Some(WasmUdf::Scalar(udf)) => Ok(Arc::new(udf)),
            Some(_) => Err(kind_error(buf, "a scalar")),
            None => other(),
        }
    }

    /// Decodes an aggregate function: a WASM one if `buf` holds a
    /// reference, else what `other` decodes.
    fn aggregate(
        &self,
        buf: &[u8],
        other: impl FnOnce() -> Result<Arc<AggregateUDF>>,
    ) -> Result<Arc<AggregateUDF>> {
        match self.function(buf)?.map(|f| f.udf) {
            Some(WasmUdf::Aggregate(udaf)) => Ok(Arc::new(udaf)),
            Some(_) => Err(kind_error(buf, "an aggregate")),
            None => other(),
        }
    }

    fn function(&self, buf: &[u8]) -> Result<Option<WasmFunction>> {
        if buf.is_empty() {
            return Ok(None);
        }
        let reference = WasmFunctionRef::decode(buf)
            .map_err(|e| DataFusionError::Plan(format!("a WASM function in the plan: {e}")))?;
        self.resolve(&reference).map(Some)
    }
}

fn kind_error(buf: &[u8], kind: &str) -> DataFusionError {
    let name = WasmFunctionRef::decode(buf)
        .map(|r| r.name)
        .unwrap_or_default();
    DataFusionError::Plan(format!(
        "function {name}: the plan uses it as {kind} function, the module does not"
    ))
}

/// The module and description of `udf`, if it is a WASM scalar function.
fn wasm_scalar(udf: &ScalarUDF) -> Option<(&WasmModule, &FunctionSpec)> {
    let wasm = udf.inner().downcast_ref::<WasmScalarUdf>()?;
    Some((wasm.module().as_ref(), wasm.spec()))
}

/// The module and description of `udaf`, if it is a WASM aggregate.
fn wasm_aggregate(udaf: &AggregateUDF) -> Option<(&WasmModule, &FunctionSpec)> {
    let wasm = udaf.inner().downcast_ref::<WasmAggregateUdf>()?;
    Some((wasm.module().as_ref(), wasm.spec()))
}

/// Encodes a function: the reference to `wasm` (its module and
/// description) if it is a WASM function, else as `other` does.
fn encode_function(
    wasm: Option<(&WasmModule, &FunctionSpec)>,
    shipping: &Shipping,
    buf: &mut Vec<u8>,
    other: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let Some((module, spec)) = wasm else {
        return other(buf);
    };
    WasmFunctionRef::new(module, spec, shipping)
        .encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding function {}: {e}", spec.name)))
}

/// What starts an in-memory table (`CREATE TABLE ... AS`, `VALUES`) in a
/// plan: its partitions follow, each an Arrow IPC stream.
const MEMORY_TABLE: &[u8] = b"wasql-memory-table:";

/// The partitions of an in-memory table, in a plan.
#[derive(Clone, PartialEq, Message)]
struct MemoryPartitions {
    /// Each partition's batches as an Arrow IPC stream.
    #[prost(bytes = "vec", repeated, tag = "1")]
    partitions: Vec<Vec<u8>>,
}

/// Writes `table`'s rows into the plan: in-memory tables travel with the
/// plans that read them (executors have no catalog of the client's).
fn encode_memory_table(
    table_ref: &TableReference,
    table: &MemTable,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let schema = table.schema();
    let mut partitions = Vec::with_capacity(table.batches.len());
    for partition in &table.batches {
        let batches = partition.try_read().map_err(|_| {
            DataFusionError::Execution(format!("table {table_ref} is being written to"))
        })?;
        let mut stream = Vec::new();
        let mut writer = StreamWriter::try_new(&mut stream, &schema)?;
        for batch in batches.iter() {
            writer.write(batch)?;
        }
        writer.finish()?;
        drop(writer);
        partitions.push(stream);
    }
    buf.extend_from_slice(MEMORY_TABLE);
    MemoryPartitions { partitions }
        .encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding table {table_ref}: {e}")))
}

fn decode_memory_table(bytes: &[u8], schema: SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let message = MemoryPartitions::decode(bytes)
        .map_err(|e| DataFusionError::Plan(format!("an in-memory table in the plan: {e}")))?;
    let partitions = message
        .partitions
        .iter()
        .map(|stream| {
            StreamReader::try_new(stream.as_slice(), None)?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(DataFusionError::from)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(MemTable::try_new(schema, partitions)?))
}

/// Ballista's logical codec, with WASM functions carried by digest.
#[derive(Debug)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
    modules: Option<Arc<Modules>>,
}

impl LogicalCodec {
    /// A codec that decodes WASM functions through `modules`.
    pub fn new(modules: Arc<Modules>) -> LogicalCodec {
        LogicalCodec {
            inner: BallistaLogicalExtensionCodec::default(),
            modules: Some(modules),
        }
    }

    /// A codec for a process that only sends plans (the client).
    pub fn sender() -> LogicalCodec {
        LogicalCodec {
            inner: BallistaLogicalExtensionCodec::default(),
            modules: None,
        }
    }

    /// The modules to decode the function `name` from `buf` with: none
    /// when `buf` is empty (not a WASM function: Ballista's codec decodes
    /// it).
    fn modules(&self, name: &str, buf: &[u8]) -> Result<Option<&Modules>> {
        if buf.is_empty() {
            return Ok(None);
        }
        self.decoding_modules(&format!("function {name}")).map(Some)
    }

    /// The modules to decode `what` with; an error when this process only
    /// sends plans.
    fn decoding_modules(&self, what: &str) -> Result<&Modules> {
        self.modules.as_deref().ok_or_else(|| {
            DataFusionError::Plan(format!(
                "{what}: this process sends plans, it does not decode WASM functions"
            ))
        })
    }
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        match buf.strip_prefix(APPLY_NODE) {
            Some(node) => {
                let modules = self.decoding_modules("a WASM table function")?;
                table_calls::decode_apply_node(node, inputs, modules, ctx, self)
            }
            None => self.inner.try_decode(buf, inputs, ctx),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        match node.node.as_any().downcast_ref::<ApplyNode>() {
            Some(apply) => table_calls::encode_apply_node(apply, self, buf),
            None => self.inner.try_encode(node, buf),
        }
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        if let Some(partitions) = buf.strip_prefix(MEMORY_TABLE) {
            return decode_memory_table(partitions, schema);
        }
        if let Some(table) = buf.strip_prefix(deep_globs::DEEP_GLOB) {
            return deep_globs::decode(table, ctx, self);
        }
        if let Some(series) = buf.strip_prefix(series::SERIES) {
            return series::decode(series, schema);
        }
        if let Some(call) = buf.strip_prefix(TABLE_CALL) {
            let modules = self.decoding_modules("a WASM table function")?;
            return Ok(Arc::new(table_calls::decode_table_call(
                call, modules, ctx, self,
            )?));
        }
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(table) = node.downcast_ref::<MemTable>() {
            return encode_memory_table(table_ref, table, buf);
        }
        if let Some(table) = node.downcast_ref::<DeepGlob>() {
            return deep_globs::encode(table_ref, table, self, buf);
        }
        if let Some(table) = node.downcast_ref::<GenerateSeriesTable>() {
            return series::encode(table_ref, table, buf);
        }
        if let Some(call) = node.downcast_ref::<TableCall>() {
            return table_calls::encode_table_call(call, self, buf);
        }
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        let other = || self.inner.try_decode_udf(name, buf);
        match self.modules(name, buf)? {
            Some(modules) => modules.scalar(buf, other),
            None => other(),
        }
    }

    // Logical plans go from the client to the scheduler, with every module
    // they call.
    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_function(wasm_scalar(node), &Shipping::Inline, buf, |buf| {
            self.inner.try_encode_udf(node, buf)
        })
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        let other = || self.inner.try_decode_udaf(name, buf);
        match self.modules(name, buf)? {
            Some(modules) => modules.aggregate(buf, other),
            None => other(),
        }
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_function(wasm_aggregate(node), &Shipping::Inline, buf, |buf| {
            self.inner.try_encode_udaf(node, buf)
        })
    }
}

/// Ballista's physical codec, with WASM functions carried by digest.
#[derive(Debug)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
    modules: Arc<Modules>,
    shipping: Shipping,
}

impl PhysicalCodec {
    /// A codec that decodes WASM functions through `modules` and sends
    /// their modules as `shipping` says.
    pub fn new(modules: Arc<Modules>, shipping: Shipping) -> PhysicalCodec {
        PhysicalCodec {
            inner: BallistaPhysicalExtensionCodec::default(),
            modules,
            shipping,
        }
    }
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.strip_prefix(APPLY_EXEC) {
            Some(exec) => table_calls::decode_apply_exec(
                exec,
                inputs,
                &self.modules,
                ctx,
                self,
                proto_converter,
            ),
            None => self.inner.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match node.downcast_ref::<ApplyExec>() {
            Some(apply) => {
                table_calls::encode_apply_exec(apply, &self.shipping, self, proto_converter, buf)
            }
            None => self.inner.try_encode(node, buf, proto_converter),
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.modules
            .scalar(buf, || self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_function(wasm_scalar(node), &self.shipping, buf, |buf| {
            self.inner.try_encode_udf(node, buf)
        })
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.modules
            .aggregate(buf, || self.inner.try_decode_udaf(name, buf))
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_function(wasm_aggregate(node), &self.shipping, buf, |buf| {
            self.inner.try_encode_udaf(node, buf)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasql_engine::{Engine, EngineSettings};

    /// A reference to `slugify` as a client would send it: made from the
    /// module it loaded from `elsewhere/slugify.wasm`.
    fn slugify() -> WasmFunctionRef {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../udfs/dist/slugify.wasm");
        let bytes = std::fs::read(path).expect("run `bash udfs/build.sh` first");
        let client = Engine::new(&EngineSettings::default()).expect("an engine");
        let module = client
            .udf_registry()
            .load_shipped(Path::new("elsewhere/slugify.wasm"), bytes)
            .expect("loaded");
        WasmFunctionRef::new(&module, &module.functions[0], &Shipping::Inline)
    }

    fn modules() -> Arc<Modules> {
        let engine = Engine::new(&EngineSettings::default()).expect("an engine");
        Modules::new(Arc::clone(engine.udf_registry()))
    }

    /// Why `reference` does not resolve.
    fn refusal(reference: &WasmFunctionRef) -> String {
        match modules().resolve(reference) {
            Ok(_) => panic!("{} resolved", reference.name),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_shipped_module_is_loaded_once_and_found_by_digest_after() {
        let modules = modules();
        let reference = slugify();
        let function = modules.resolve(&reference).expect("resolved");
        assert_eq!(function.spec.name, "slugify");
        assert_eq!(function.module.path, Path::new("elsewhere/slugify.wasm"));
        // Without the bytes, the module already here serves.
        let again = modules
            .resolve(&WasmFunctionRef {
                bytes: Vec::new(),
                ..reference
            })
            .expect("found by digest");
        assert!(Arc::ptr_eq(&again.module, &function.module));
    }

    #[test]
    fn bytes_that_do_not_match_the_digest_are_refused() {
        let mut reference = slugify();
        reference.bytes.push(0);
        let error = refusal(&reference);
        assert!(error.contains("do not match its digest"), "{error}");
        assert!(error.contains("elsewhere/slugify.wasm"), "{error}");
    }

    #[test]
    fn a_module_missing_here_and_from_the_plan_is_named() {
        let reference = WasmFunctionRef {
            bytes: Vec::new(),
            ..slugify()
        };
        let error = refusal(&reference);
        assert!(
            error.contains("is not here and the plan does not carry it"),
            "{error}"
        );
    }

    #[test]
    fn another_signature_than_the_plans_is_refused() {
        let reference = WasmFunctionRef {
            signature: "slugify(Int64) -> Utf8".into(),
            ..slugify()
        };
        let error = refusal(&reference);
        assert!(
            error.contains("the plan as slugify(Int64) -> Utf8"),
            "{error}"
        );
    }

    /// `slugify` with a custom section that makes it larger than
    /// [`depot::INLINE_LIMIT`].
    fn large_module(client: &Engine) -> Arc<WasmModule> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../udfs/dist/slugify.wasm");
        let mut bytes = std::fs::read(path).expect("run `bash udfs/build.sh` first");
        let mut section = vec![7];
        section.extend(b"padding");
        section.resize(depot::INLINE_LIMIT + 8, 0);
        let mut size = section.len();
        bytes.push(0);
        while size >= 0x80 {
            bytes.push((size as u8 & 0x7f) | 0x80);
            size >>= 7;
        }
        bytes.push(size as u8);
        bytes.extend(section);
        client
            .udf_registry()
            .load_shipped(Path::new("big.wasm"), bytes)
            .expect("loaded")
    }

    #[test]
    fn the_depot_ships_large_modules_by_address_and_small_ones_inline() {
        let depot = Shipping::Depot("http://127.0.0.1:1".into());
        let small = slugify();
        let small_module = modules().resolve(&small).expect("resolved").module;
        let inline = WasmFunctionRef::new(&small_module, &small_module.functions[0], &depot);
        assert_eq!(inline.bytes, small.bytes);
        assert!(inline.source.is_empty());

        let client = Engine::new(&EngineSettings::default()).expect("an engine");
        let large = large_module(&client);
        let by_address = WasmFunctionRef::new(&large, &large.functions[0], &depot);
        assert!(by_address.bytes.is_empty());
        assert_eq!(
            by_address.source,
            format!("http://127.0.0.1:1/modules/{}", large.sha256)
        );
        // Sent inline, the same module carries its bytes.
        let carried = WasmFunctionRef::new(&large, &large.functions[0], &Shipping::Inline);
        assert_eq!(carried.bytes.len(), large.bytes.len());
    }

    #[test]
    fn references_round_trip() {
        let reference = slugify();
        let mut buf = Vec::new();
        reference.encode(&mut buf).unwrap();
        assert_eq!(WasmFunctionRef::decode(buf.as_slice()).unwrap(), reference);
    }
}
