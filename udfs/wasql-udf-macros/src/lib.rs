//! `#[udf]`: turns a plain Rust function into a wasql UDF export (udfs/ABI.md).
//! Use it through the `wasql-udf` crate, which re-exports it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprArray, FnArg, ItemFn, Lit, LitStr, ReturnType, Type, parse_macro_input};

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
/// Options: `name = "sql_name"`, `volatility = "immutable" | "stable" |
/// "volatile"`, `doc = "one line"` (default: the first line of the doc
/// comment), `capabilities = ["net:example.com"]`.
#[proc_macro_attribute]
pub fn udf(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| options.parse(meta));
    parse_macro_input!(attr with parser);
    let function = parse_macro_input!(item as ItemFn);
    match expand(options, &function) {
        Ok(tokens) => quote!(#function #tokens).into(),
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#function #e).into()
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
            _ => {
                return Err(meta.error(
                    "unknown option: use name, volatility, doc, capabilities, batch, args, returns",
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

fn valid_sql_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Tokens for the SDK's `DataType` of an ABI type string, and the string in
/// canonical form.
fn data_type(lit: &LitStr) -> syn::Result<(TokenStream2, String)> {
    let text = lit.value();
    let simple = |variant: &str| {
        let ident = format_ident!("{}", variant);
        Ok((
            quote!(::wasql_udf::DataType::#ident),
            text.trim().to_string(),
        ))
    };
    match text.trim() {
        "boolean" => simple("Boolean"),
        "int8" => simple("Int8"),
        "int16" => simple("Int16"),
        "int32" => simple("Int32"),
        "int64" => simple("Int64"),
        "uint8" => simple("UInt8"),
        "uint16" => simple("UInt16"),
        "uint32" => simple("UInt32"),
        "uint64" => simple("UInt64"),
        "float32" => simple("Float32"),
        "float64" => simple("Float64"),
        "utf8" => simple("Utf8"),
        "binary" => simple("Binary"),
        "date32" => simple("Date32"),
        "timestamp_us" => simple("TimestampMicros"),
        "timestamp_us_utc" => simple("TimestampMicrosUtc"),
        other => {
            let decimal = other
                .strip_prefix("decimal128(")
                .and_then(|t| t.strip_suffix(')'))
                .and_then(|t| t.split_once(','))
                .and_then(|(p, s)| {
                    Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<i8>().ok()?))
                })
                .filter(|&(p, s)| (1..=38).contains(&p) && s.unsigned_abs() <= p);
            match decimal {
                Some((p, s)) => Ok((
                    quote!(::wasql_udf::DataType::Decimal128(#p, #s)),
                    format!("decimal128({p},{s})"),
                )),
                None => Err(syn::Error::new_spanned(
                    lit,
                    "unknown type: use boolean, int8..int64, uint8..uint64, float32, float64, \
                     utf8, binary, date32, timestamp_us, timestamp_us_utc or decimal128(P,S)",
                )),
            }
        }
    }
}

/// Names elided and `'_` lifetimes.
struct NameLifetimes(syn::Lifetime);

impl VisitMut for NameLifetimes {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        if r.lifetime.is_none() {
            r.lifetime = Some(self.0.clone());
        }
        syn::visit_mut::visit_type_reference_mut(self, r);
    }

    fn visit_lifetime_mut(&mut self, l: &mut syn::Lifetime) {
        if l.ident == "_" {
            *l = self.0.clone();
        }
    }
}

fn with_lifetime(ty: &Type, lifetime: &syn::Lifetime) -> Type {
    let mut ty = ty.clone();
    NameLifetimes(lifetime.clone()).visit_type_mut(&mut ty);
    ty
}

/// The doc comment's first paragraph, as one line.
fn doc_line(function: &ItemFn) -> Option<String> {
    let lines = function.attrs.iter().filter_map(|attr| {
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

fn expand(options: Options, function: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &function.sig;
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
    let ident = &sig.ident;
    let rust_name = syn::ext::IdentExt::unraw(ident).to_string();
    let (name, name_span) = match &options.name {
        Some(lit) => (lit.value(), lit.span()),
        None => (rust_name.clone(), ident.span()),
    };
    if !valid_sql_name(&name) {
        return Err(syn::Error::new(
            name_span,
            format!(
                "the SQL name `{name}` must match [a-z_][a-z0-9_]*; set one with name = \"...\""
            ),
        ));
    }
    let volatility = match &options.volatility {
        None => "immutable".to_string(),
        Some(lit) => {
            let v = lit.value();
            if !["immutable", "stable", "volatile"].contains(&v.as_str()) {
                return Err(syn::Error::new_spanned(
                    lit,
                    "volatility is \"immutable\", \"stable\" or \"volatile\"",
                ));
            }
            v
        }
    };
    let doc = options
        .doc
        .as_ref()
        .map(|d| d.value())
        .or_else(|| doc_line(function));
    if let Some(d) = &doc
        && d.contains('\n')
    {
        return Err(syn::Error::new(Span::call_site(), "doc must be one line"));
    }
    let export = format!("wasql_udf_{name}");
    let body_fn = format_ident!("__wasql_udf_body_{}", rust_name);
    let export_fn = format_ident!("__wasql_udf_export_{}", rust_name);
    let parts_const = format_ident!("__WASQL_UDF_PARTS_{}", rust_name);
    let section_static = format_ident!("__WASQL_UDF_SECTION_{}", rust_name);

    let a = syn::Lifetime::new("'__a", Span::call_site());
    let st = syn::Lifetime::new("'static", Span::call_site());

    // The description line, in pieces: literal JSON around const type names.
    let mut parts: Vec<TokenStream2> = Vec::new();
    let head = format!(
        "{{\"abi\":1,\"name\":\"{name}\",\"kind\":\"scalar\",\"export\":\"{export}\",\"args\":["
    );
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
        let mut types = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    return Err(syn::Error::new_spanned(r, "a UDF cannot take self"));
                }
                FnArg::Typed(t) => types.push((*t.ty).clone()),
            }
        }
        let ret: Type = match &sig.output {
            ReturnType::Default => {
                return Err(syn::Error::new_spanned(sig, "a UDF must return a value"));
            }
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        parts.push(quote!(#head));
        for (i, ty) in types.iter().enumerate() {
            let ty = with_lifetime(ty, &st);
            let open = if i == 0 { "\"" } else { ",\"" };
            parts.push(quote!(#open));
            parts.push(quote!(<#ty as ::wasql_udf::__private::FromArg<'static>>::TYPE));
            parts.push(quote!("\""));
        }
        let ret_static = with_lifetime(&ret, &st);
        parts.push(quote!("],\"returns\":\""));
        parts.push(quote!(<#ret_static as ::wasql_udf::__private::IntoRet>::TYPE));
        parts.push(quote!("\""));
        let static_types: Vec<Type> = types.iter().map(|t| with_lifetime(t, &st)).collect();
        arg_types =
            quote!(&[#(<#static_types as ::wasql_udf::__private::FromArg<'static>>::DATA_TYPE),*]);
        return_type = quote!(<#ret_static as ::wasql_udf::__private::IntoRet>::DATA_TYPE);

        // The row loop.
        let ret_a = with_lifetime(&ret, &a);
        let n = types.len();
        let readers: Vec<_> = (0..n).map(|i| format_ident!("__r{}", i)).collect();
        let values: Vec<_> = (0..n).map(|i| format_ident!("__v{}", i)).collect();
        let index: Vec<_> = (0..n).map(syn::Index::from).collect();
        let reader_decls = types.iter().zip(&readers).zip(&index).map(|((ty, r), i)| {
            let ty = with_lifetime(ty, &a);
            quote! {
                let #r = <<#ty as ::wasql_udf::__private::FromArg<#a>>::Reader
                    as ::wasql_udf::__private::ArgReader<#a>>::new(&__views[#i], __nrows)
                    .map_err(|e| ::std::format!("argument {}: {}", #i + 1, e))?;
            }
        });
        let push = quote! {
            <#ret_a as ::wasql_udf::__private::IntoRet>::push(#ident(#(#values),*), &mut __out)?;
        };
        body = quote! {
            if __views.len() != #n {
                return ::core::result::Result::Err(::std::format!(
                    "called with {} arguments, the function takes {}", __views.len(), #n));
            }
            #(#reader_decls)*
            let __hint = ::wasql_udf::__private::data_hint(__views, __nrows);
            if true #(&& ::wasql_udf::__private::ArgReader::dense(&#readers))* {
                // No nulls, no constants: straight reads.
                return <#ret_a as ::wasql_udf::__private::IntoRet>::collect_rows(__nrows, __hint, move |__row| {
                    // SAFETY: collect_rows passes __row < __nrows; every reader is dense.
                    #(let #values = unsafe { ::wasql_udf::__private::ArgReader::get_dense(&#readers, __row) };)*
                    #ident(#(#values),*)
                });
            }
            let mut __out = <<#ret_a as ::wasql_udf::__private::IntoRet>::Builder
                as ::wasql_udf::__private::RetBuilder>::with_rows(__nrows, __hint);
            for __row in 0..__nrows {
                #(
                    // SAFETY: __row < __nrows.
                    let #values = match unsafe { ::wasql_udf::__private::ArgReader::get(&#readers, __row) } {
                        ::core::option::Option::Some(v) => v,
                        ::core::option::Option::None => {
                            ::wasql_udf::__private::RetBuilder::push_null(&mut __out);
                            continue;
                        }
                    };
                )*
                #push
            }
            ::core::result::Result::Ok(::wasql_udf::__private::RetBuilder::finish(__out))
        };
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
    parts.push(quote!(#tail));

    Ok(quote! {
        #[doc(hidden)]
        #[allow(dead_code, non_snake_case, clippy::all)]
        pub fn #body_fn<#a>(
            __views: &#a [::wasql_udf::ArrayView<#a>],
            __nrows: usize,
        ) -> ::core::result::Result<::wasql_udf::ArrayData, ::std::string::String> {
            #body
        }

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[allow(dead_code, non_snake_case)]
        #[unsafe(export_name = #export)]
        pub extern "C" fn #export_fn(args: i32, nargs: i32, nrows: i32, out: i32, err: i32) -> i32 {
            // SAFETY: the host calls the export as udfs/ABI.md §3 says.
            unsafe {
                ::wasql_udf::__private::run(
                    args, nargs, nrows, out, err, #arg_types, #return_type, #body_fn,
                )
            }
        }

        #[doc(hidden)]
        #[allow(dead_code, non_upper_case_globals)]
        pub const #parts_const: &[&str] = &[#(#parts),*];

        /// This function's line of the `wasql.udfs` custom section.
        #[doc(hidden)]
        #[allow(dead_code, non_upper_case_globals)]
        #[used]
        #[cfg_attr(target_family = "wasm", unsafe(link_section = "wasql.udfs"))]
        pub static #section_static: [u8; ::wasql_udf::__private::json_len(#parts_const)] =
            ::wasql_udf::__private::json_bytes(#parts_const);
    })
}
