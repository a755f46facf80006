//! `#[udf]`: turns a plain Rust function into a wasql UDF export (udfs/ABI.md).
//! Use it through the `wasql-udf` crate, which re-exports it.
//!
//! The type list, names, name rule and ABI version come from `wasql-abi`
//! (a `no_std` crate with no dependencies, so it builds for the host this
//! macro runs on as well as for the wasm32 guest).
//!
//! # `unsafe` in the generated code
//!
//! The expansion calls the SDK's `unsafe` readers and call drivers, and
//! names its exports and section with `unsafe` attributes. A `//` comment
//! inside `quote!` is not a token, so it never reaches the expansion, and
//! clippy's `undocumented_unsafe_blocks` does not look into proc-macro
//! output. Each `unsafe` the macro emits is therefore documented here, at
//! the `quote!` that emits it: a `// SAFETY:` comment states the callee's
//! preconditions and why the generated code around it meets them. The
//! generated code itself has no `#[allow]` for the lint (it does not need
//! one).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use wasql_abi::{
    ABI_VERSION, DataType, Kind, MAX_DECIMAL_PRECISION, SECTION, Volatility, is_valid_name,
};

use syn::{
    Attribute, Expr, ExprArray, FnArg, Ident, Item, ItemFn, Lit, LitStr, ReturnType, Signature,
    Type, parse_macro_input,
};

mod aggregate;
mod table;

/// Marks a function as a wasql UDF.
///
/// Scalar form: `#[udf]` on `fn name(a: A, b: B, ...) -> R` where each
/// argument type is one of `bool`, `i8`..`i64`, `u8`..`u64`, `f32`, `f64`,
/// `&str`, `String`, `&[u8]`, `Vec<u8>`, `Date32`, `TimestampMicros`,
/// `TimestampMicrosUtc` or an `Option` of one; `R` is one of those (or `Cow`,
/// `Box` of str/[u8]), an `Option` of one, or a `Result<_, E: Display>` of
/// those.
///
/// Batch form: `#[udf(batch, args = ["float64", ...], returns = "float64")]`
/// on `fn name(args: &[ArrayView], nrows: usize) -> Result<ArrayData, E>`
/// (or `-> ArrayData`).
///
/// Aggregate: `#[udf]` on `impl Aggregate for T`; the SQL name defaults to
/// `T` in snake case.
///
/// Table function: `#[udf(table, columns = ["a", "b"])]` on
/// `fn name(x: X, ..., out: &mut Emitter<(A, B)>)` (argument types as in
/// the scalar form), returning `()` or `Result<(), E>`; add `partitioned`
/// to take each argument as `Rows<'_, X>` over one partition.
///
/// Options: `name = "sql_name"`, `volatility = "immutable" | "stable" |
/// "volatile"`, `doc = "one line"` (default: the first line of the doc
/// comment), `capabilities = ["net:example.com"]`.
#[proc_macro_attribute]
pub fn udf(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| options.parse(meta));
    parse_macro_input!(attr with parser);
    let item = parse_macro_input!(item as Item);
    // Each expansion includes the item (a table function's, rewritten).
    let expanded = match &item {
        Item::Fn(function) if options.table => table::expand(&options, function),
        Item::Fn(function) => expand(options, function).map(|tokens| quote!(#function #tokens)),
        Item::Impl(block) => {
            aggregate::expand(&options, block).map(|tokens| quote!(#block #tokens))
        }
        other => Err(syn::Error::new_spanned(
            other,
            "#[udf] goes on a function or on an `impl Aggregate for T` block",
        )),
    };
    match expanded {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#item #e).into()
        }
    }
}

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    volatility: Option<LitStr>,
    doc: Option<LitStr>,
    capabilities: Vec<LitStr>,
    batch: bool,
    args: Option<Vec<LitStr>>,
    returns: Option<LitStr>,
    table: bool,
    partitioned: bool,
    columns: Option<Vec<LitStr>>,
}

fn string_list(value: &Expr) -> syn::Result<Vec<LitStr>> {
    let Expr::Array(ExprArray { elems, .. }) = value else {
        return Err(syn::Error::new_spanned(
            value,
            "expected a list of strings: [\"a\", \"b\"]",
        ));
    };
    elems
        .iter()
        .map(|e| match e {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(s.clone()),
            other => Err(syn::Error::new_spanned(other, "expected a string")),
        })
        .collect()
}

impl Options {
    fn parse(&mut self, meta: syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "batch" => self.batch = true,
            "name" => self.name = Some(meta.value()?.parse()?),
            "volatility" => self.volatility = Some(meta.value()?.parse()?),
            "doc" => self.doc = Some(meta.value()?.parse()?),
            "returns" => self.returns = Some(meta.value()?.parse()?),
            "capabilities" => self.capabilities = string_list(&meta.value()?.parse()?)?,
            "args" => self.args = Some(string_list(&meta.value()?.parse()?)?),
            "table" => self.table = true,
            "partitioned" => self.partitioned = true,
            "columns" => self.columns = Some(string_list(&meta.value()?.parse()?)?),
            _ => {
                return Err(meta.error(
                    "unknown option: use name, volatility, doc, capabilities, batch, args, \
                     returns, table, partitioned, columns",
                ));
            }
        }
        Ok(())
    }
}

/// A JSON string literal's contents.
fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Tokens for the SDK's `DataType` of an ABI type string, and the string in
/// canonical form. The type list is wasql-abi's: a type without parameters
/// becomes `DataType::SIMPLE[i]`, so that the macro names no variant itself.
fn data_type(lit: &LitStr) -> syn::Result<(TokenStream2, String)> {
    let Some(parsed) = DataType::parse(&lit.value()) else {
        let simple: Vec<&str> = DataType::SIMPLE
            .iter()
            .filter_map(|t| t.simple_name())
            .collect();
        return Err(syn::Error::new_spanned(
            lit,
            format!(
                "unknown type: use {} or decimal128(P,S) (1 <= P <= {MAX_DECIMAL_PRECISION}, |S| <= P)",
                simple.join(", ")
            ),
        ));
    };
    let tokens = match parsed {
        DataType::Decimal128(p, s) => quote!(::wasql_udf::DataType::Decimal128(#p, #s)),
        simple => {
            let index = DataType::SIMPLE
                .iter()
                .position(|&t| t == simple)
                .expect("parse returns a decimal or one of SIMPLE");
            quote!(::wasql_udf::DataType::SIMPLE[#index])
        }
    };
    Ok((tokens, parsed.to_string()))
}

/// Names elided and `'_` lifetimes, and `named` (a generic parameter being
/// substituted) if given.
struct NameLifetimes {
    to: syn::Lifetime,
    named: Option<Ident>,
}

impl VisitMut for NameLifetimes {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        if r.lifetime.is_none() {
            r.lifetime = Some(self.to.clone());
        }
        syn::visit_mut::visit_type_reference_mut(self, r);
    }

    fn visit_lifetime_mut(&mut self, l: &mut syn::Lifetime) {
        if l.ident == "_" || self.named.as_ref() == Some(&l.ident) {
            *l = self.to.clone();
        }
    }
}

/// `ty` with its elided and `'_` lifetimes, and `named`, set to `lifetime`.
fn rename_lifetimes(ty: &Type, named: Option<&Ident>, lifetime: &str) -> Type {
    let mut ty = ty.clone();
    NameLifetimes {
        to: syn::Lifetime::new(lifetime, Span::call_site()),
        named: named.cloned(),
    }
    .visit_type_mut(&mut ty);
    ty
}

/// `ty` with its elided and `'_` lifetimes set to `lifetime`.
fn with_lifetime(ty: &Type, lifetime: &str) -> Type {
    rename_lifetimes(ty, None, lifetime)
}

/// The doc comment's first paragraph, as one line.
fn doc_line(attrs: &[Attribute]) -> Option<String> {
    let lines = attrs.iter().filter_map(|attr| {
        if !attr.path().is_ident("doc") {
            return None;
        }
        let syn::Meta::NameValue(nv) = &attr.meta else {
            return None;
        };
        match &nv.value {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        }
    });
    let mut paragraph = Vec::new();
    for chunk in lines {
        // An empty `///` line is "", which has no lines() at all.
        let chunk = if chunk.trim().is_empty() {
            "\n".to_string()
        } else {
            chunk
        };
        for line in chunk.split('\n').map(str::trim) {
            if line.is_empty() {
                if !paragraph.is_empty() {
                    return Some(paragraph.join(" "));
                }
            } else {
                paragraph.push(line.to_string());
            }
        }
    }
    (!paragraph.is_empty()).then(|| paragraph.join(" "))
}

/// What every kind of function describes the same way.
struct Described {
    /// The SQL name.
    name: String,
    /// The end of the description line: volatility, capabilities, doc and
    /// the closing brace and newline.
    tail: String,
}

/// Checks the name, volatility and doc (`default_name` at `span` when the
/// options name none, the doc comment from `attrs`).
fn describe(
    options: &Options,
    default_name: String,
    span: Span,
    attrs: &[Attribute],
) -> syn::Result<Described> {
    let (name, name_span) = match &options.name {
        Some(lit) => (lit.value(), lit.span()),
        None => (default_name, span),
    };
    if !is_valid_name(&name) {
        return Err(syn::Error::new(
            name_span,
            format!(
                "the SQL name `{name}` must match [a-z_][a-z0-9_]*; set one with name = \"...\""
            ),
        ));
    }
    let volatility = match &options.volatility {
        None => Volatility::default(),
        Some(lit) => Volatility::parse(&lit.value()).ok_or_else(|| {
            let [a, b, c] = Volatility::ALL.map(Volatility::name);
            syn::Error::new_spanned(lit, format!("volatility is \"{a}\", \"{b}\" or \"{c}\""))
        })?,
    };
    let volatility = volatility.name();
    let doc = options
        .doc
        .as_ref()
        .map(|d| d.value())
        .or_else(|| doc_line(attrs));
    if let Some(d) = &doc
        && d.contains('\n')
    {
        return Err(syn::Error::new(Span::call_site(), "doc must be one line"));
    }
    let capabilities: Vec<String> = options
        .capabilities
        .iter()
        .map(|c| format!("\"{}\"", json_escape(&c.value())))
        .collect();
    let mut tail = format!(
        ",\"volatility\":\"{volatility}\",\"capabilities\":[{}]",
        capabilities.join(",")
    );
    if let Some(doc) = &doc {
        tail.push_str(&format!(",\"doc\":\"{}\"", json_escape(doc)));
    }
    tail.push_str("}\n");
    Ok(Described { name, tail })
}

/// An error unless `sig` is a plain function: not generic, async, unsafe or
/// variadic.
fn check_plain(sig: &Signature) -> syn::Result<()> {
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a UDF cannot be generic",
        ));
    }
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new_spanned(a, "a UDF cannot be async"));
    }
    if let Some(u) = &sig.unsafety {
        return Err(syn::Error::new_spanned(u, "a UDF cannot be unsafe"));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new_spanned(v, "a UDF cannot be variadic"));
    }
    Ok(())
}

/// The types of a function's arguments.
fn input_types(sig: &Signature) -> syn::Result<Vec<Type>> {
    sig.inputs
        .iter()
        .map(|input| match input {
            FnArg::Receiver(r) => Err(syn::Error::new_spanned(r, "a UDF cannot take self")),
            FnArg::Typed(t) => Ok((*t.ty).clone()),
        })
        .collect()
}

/// Description pieces for `"T1","T2",...` of Rust argument types.
fn arg_type_parts(types: &[Type]) -> Vec<TokenStream2> {
    let mut parts = Vec::new();
    for (i, ty) in types.iter().enumerate() {
        let ty = with_lifetime(ty, "'static");
        let open = if i == 0 { "\"" } else { ",\"" };
        parts.push(quote!(#open));
        parts.push(quote!(<#ty as ::wasql_udf::__private::FromArg<'static>>::TYPE));
        parts.push(quote!("\""));
    }
    parts
}

/// `&[DataType, ...]` of Rust argument types.
fn arg_data_types(types: &[Type]) -> TokenStream2 {
    let types = types.iter().map(|t| with_lifetime(t, "'static"));
    quote!(&[#(<#types as ::wasql_udf::__private::FromArg<'static>>::DATA_TYPE),*])
}

/// Readers of the arguments `__views` (lifetime `'__a`, `__nrows` rows) of
/// Rust types `types`: declarations and the names of readers and values.
struct Readers {
    decls: Vec<TokenStream2>,
    readers: Vec<Ident>,
    values: Vec<Ident>,
}

impl Readers {
    fn new(types: &[Type]) -> Readers {
        let readers: Vec<Ident> = (0..types.len())
            .map(|i| format_ident!("__r{}", i))
            .collect();
        let decls = types
            .iter()
            .zip(&readers)
            .enumerate()
            .map(|(i, (ty, r))| {
                let ty = with_lifetime(ty, "'__a");
                quote! {
                    let #r = <<#ty as ::wasql_udf::__private::FromArg<'__a>>::Reader
                        as ::wasql_udf::__private::ArgReader<'__a>>::new(&__views[#i], __nrows)
                        .map_err(|e| ::std::format!("argument {}: {}", #i + 1, e))?;
                }
            })
            .collect();
        let values = (0..types.len())
            .map(|i| format_ident!("__v{}", i))
            .collect();
        Readers {
            decls,
            readers,
            values,
        }
    }

    /// `true` when every reader is dense.
    fn dense(&self) -> TokenStream2 {
        let readers = &self.readers;
        quote!(true #(&& ::wasql_udf::__private::ArgReader::dense(&#readers))*)
    }

    /// Binds the values of row `__row`, knowing every reader is dense.
    ///
    /// Emitted only inside `if #dense { for __row in R { ... } }` where every
    /// row of `R` is below `__nrows` (`0..__nrows`, a `__ids` enumeration
    /// with `__nrows = __ids.len()`, or `__start..__end` after
    /// `check_bounds`), and each reader was made by `ArgReader::new(view,
    /// __nrows)`.
    fn get_dense(&self) -> TokenStream2 {
        let (readers, values) = (&self.readers, &self.values);
        quote! {
            // SAFETY: ArgReader::get_dense needs __row < the reader's nrows
            // and a dense reader: the loop around this code runs __row below
            // __nrows, the nrows every reader was made for, inside a branch
            // taken only when every reader is dense (see the doc above).
            #(let #values = unsafe { ::wasql_udf::__private::ArgReader::get_dense(&#readers, __row) };)*
        }
    }

    /// Binds the values of row `__row`, running `on_null` for a null.
    ///
    /// Emitted only inside a loop whose rows are all below `__nrows`, as for
    /// [`Readers::get_dense`].
    fn get_or(&self, on_null: TokenStream2) -> TokenStream2 {
        let (readers, values) = (&self.readers, &self.values);
        quote! {
            #(
                // SAFETY: ArgReader::get needs __row < the reader's nrows:
                // the loop around this code runs __row below __nrows, the
                // nrows every reader was made for.
                let #values = match unsafe { ::wasql_udf::__private::ArgReader::get(&#readers, __row) } {
                    ::core::option::Option::Some(v) => v,
                    ::core::option::Option::None => { #on_null }
                };
            )*
        }
    }
}

/// The description section's line made of `parts`, as the statics
/// `__WASQL_UDF_PARTS_<suffix>` and `__WASQL_UDF_SECTION_<suffix>`.
fn section(suffix: &str, parts: &[TokenStream2]) -> TokenStream2 {
    let parts_const = format_ident!("__WASQL_UDF_PARTS_{}", suffix);
    let section_static = format_ident!("__WASQL_UDF_SECTION_{}", suffix);
    quote! {
        #[doc(hidden)]
        #[allow(dead_code, non_upper_case_globals)]
        pub const #parts_const: &[&str] = &[#(#parts),*];

        /// This function's line of the `wasql.udfs` custom section.
        #[doc(hidden)]
        #[allow(dead_code, non_upper_case_globals)]
        #[used]
        // SAFETY (of the attribute): link_section is unsafe because data
        // placed in a section the program loads could break what else lives
        // there; a wasm custom section is never loaded into memory or
        // executed, it only carries these bytes for the host to read.
        #[cfg_attr(target_family = "wasm", unsafe(link_section = #SECTION))]
        pub static #section_static: [u8; ::wasql_udf::__private::json_len(#parts_const)] =
            ::wasql_udf::__private::json_bytes(#parts_const);
    }
}

/// The start of a description line (udfs/ABI.md §2), up to the opening
/// bracket of its `args`.
fn description_head(name: &str, kind: Kind, export: &str) -> String {
    format!(
        "{{\"abi\":{ABI_VERSION},\"name\":\"{name}\",\"kind\":\"{}\",\"export\":\"{export}\",\"args\":[",
        kind.name()
    )
}

/// An error unless the options are only those of `kind`.
fn only_options(options: &Options, kind: &str, allowed: &[&str]) -> syn::Result<()> {
    let given = [
        ("batch", options.batch),
        ("args", options.args.is_some()),
        ("returns", options.returns.is_some()),
        ("table", options.table),
        ("partitioned", options.partitioned),
        ("columns", options.columns.is_some()),
    ];
    match given
        .iter()
        .find(|(option, set)| *set && !allowed.contains(option))
    {
        Some((option, _)) => Err(syn::Error::new(
            Span::call_site(),
            format!("`{option}` is not an option of {kind}"),
        )),
        None => Ok(()),
    }
}

fn expand(options: Options, function: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &function.sig;
    check_plain(sig)?;
    only_options(&options, "a scalar function", &["batch", "args", "returns"])?;
    let ident = &sig.ident;
    let rust_name = syn::ext::IdentExt::unraw(ident).to_string();
    let Described { name, tail } =
        describe(&options, rust_name.clone(), ident.span(), &function.attrs)?;
    let export = format!("wasql_udf_{name}");
    let body_fn = format_ident!("__wasql_udf_body_{}", rust_name);
    let export_fn = format_ident!("__wasql_udf_export_{}", rust_name);

    // The description line, in pieces: literal JSON around const type names.
    let mut parts: Vec<TokenStream2> = Vec::new();
    let head = description_head(&name, Kind::Scalar, &export);
    let (arg_types, return_type, body);
    if options.batch {
        let (Some(args), Some(returns)) = (&options.args, &options.returns) else {
            return Err(syn::Error::new(
                Span::call_site(),
                "the batch form needs args = [\"type\", ...] and returns = \"type\"",
            ));
        };
        if sig.inputs.len() != 2 {
            return Err(syn::Error::new_spanned(
                &sig.inputs,
                "a batch UDF takes (args: &[wasql_udf::ArrayView], nrows: usize)",
            ));
        }
        let mut text = head;
        let mut types = Vec::new();
        for (i, lit) in args.iter().enumerate() {
            let (tokens, canonical) = data_type(lit)?;
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("\"{canonical}\""));
            types.push(tokens);
        }
        let (ret_tokens, ret_canonical) = data_type(returns)?;
        text.push_str(&format!("],\"returns\":\"{ret_canonical}\""));
        parts.push(quote!(#text));
        arg_types = quote!(&[#(#types),*]);
        return_type = ret_tokens;
        body = quote! {
            ::wasql_udf::__private::IntoBatchResult::into_batch_result(#ident(__views, __nrows))
        };
    } else {
        if options.args.is_some() || options.returns.is_some() {
            return Err(syn::Error::new(
                Span::call_site(),
                "args and returns are for the batch form (add `batch`); the scalar form takes the types from the signature",
            ));
        }
        let types = input_types(sig)?;
        let ret: Type = match &sig.output {
            ReturnType::Default => {
                return Err(syn::Error::new_spanned(sig, "a UDF must return a value"));
            }
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        parts.push(quote!(#head));
        parts.extend(arg_type_parts(&types));
        let ret_static = with_lifetime(&ret, "'static");
        parts.push(quote!("],\"returns\":\""));
        parts.push(quote!(<#ret_static as ::wasql_udf::__private::IntoRet>::TYPE));
        parts.push(quote!("\""));
        arg_types = arg_data_types(&types);
        return_type = quote!(<#ret_static as ::wasql_udf::__private::IntoRet>::DATA_TYPE);

        // The row loop.
        let ret_a = with_lifetime(&ret, "'__a");
        let n = types.len();
        let readers = Readers::new(&types);
        let (reader_decls, values) = (&readers.decls, &readers.values);
        let dense = readers.dense();
        let get_dense = readers.get_dense();
        let get = readers.get_or(quote! {
            ::wasql_udf::__private::RetBuilder::push_null(&mut __out);
            continue;
        });
        body = quote! {
            if __views.len() != #n {
                return ::core::result::Result::Err(::std::format!(
                    "called with {} arguments, the function takes {}", __views.len(), #n));
            }
            #(#reader_decls)*
            let __hint = ::wasql_udf::__private::data_hint(__views, __nrows);
            if #dense {
                // No nulls, no constants: straight reads.
                return <#ret_a as ::wasql_udf::__private::IntoRet>::collect_rows(__nrows, __hint, move |__row| {
                    #get_dense
                    #ident(#(#values),*)
                });
            }
            let mut __out = <<#ret_a as ::wasql_udf::__private::IntoRet>::Builder
                as ::wasql_udf::__private::RetBuilder>::with_rows(__nrows, __hint);
            for __row in 0..__nrows {
                #get
                <#ret_a as ::wasql_udf::__private::IntoRet>::push(#ident(#(#values),*), &mut __out)?;
            }
            ::core::result::Result::Ok(::wasql_udf::__private::RetBuilder::finish(__out))
        };
    }
    parts.push(quote!(#tail));
    let section = section(&rust_name, &parts);

    Ok(quote! {
        #[doc(hidden)]
        #[allow(dead_code, non_snake_case, clippy::all)]
        pub fn #body_fn<'__a>(
            __views: &'__a [::wasql_udf::ArrayView<'__a>],
            __nrows: usize,
        ) -> ::core::result::Result<::wasql_udf::ArrayData, ::std::string::String> {
            #body
        }

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[allow(dead_code, non_snake_case)]
        // SAFETY (of the attribute): export_name is unsafe because two
        // symbols of one name would clash; `wasql_udf_<name>` is unique in
        // the module, since the SQL name is (the host refuses a module that
        // describes a name twice, and the linker refuses duplicate symbols).
        #[unsafe(export_name = #export)]
        pub extern "C" fn #export_fn(args: i32, nargs: i32, nrows: i32, out: i32, err: i32) -> i32 {
            // SAFETY: run needs the arguments of a call made as udfs/ABI.md §3
            // says (args/nargs argument structs, writable out and err, valid
            // for the call): only the host calls this export, and it keeps to
            // the ABI (see "What the host guarantees" in wasql_udf::ffi).
            unsafe {
                ::wasql_udf::__private::run(
                    args, nargs, nrows, out, err, #arg_types, #return_type, #body_fn,
                )
            }
        }

        #section
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str) -> LitStr {
        LitStr::new(text, Span::call_site())
    }

    #[test]
    fn type_strings_come_from_wasql_abi() {
        for (i, t) in DataType::SIMPLE.iter().enumerate() {
            let (tokens, canonical) = data_type(&lit(&format!(" {t} "))).unwrap();
            assert_eq!(canonical, t.to_string());
            assert_eq!(
                tokens.to_string(),
                quote!(::wasql_udf::DataType::SIMPLE[#i]).to_string()
            );
        }
        let (tokens, canonical) = data_type(&lit("decimal128( 10 , -2 )")).unwrap();
        assert_eq!(canonical, "decimal128(10,-2)");
        assert_eq!(
            tokens.to_string(),
            quote!(::wasql_udf::DataType::Decimal128(10u8, -2i8)).to_string()
        );
        for refused in ["float16", "decimal128(39,0)", "Int8"] {
            let message = data_type(&lit(refused)).unwrap_err().to_string();
            assert!(
                message.contains("timestamp_us_utc") && message.contains("decimal128(P,S)"),
                "{refused}: {message}"
            );
        }
    }
}
