//! `#[udf(table, ...)]`: table functions per row or per partition
//! (udfs/ABI.md §9): the part loop, the export and the description line.

use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, Type};

use wasql_abi::{Kind, is_valid_name};

use crate::{
    Described, Options, Readers, arg_data_types, arg_type_parts, check_plain, describe,
    description_head, input_types, only_options, with_lifetime,
};

/// The type arguments of `ty`'s last path segment, if it is named `name`.
fn type_args<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t Type>> {
    let Type::Path(path) = ty else {
        return None;
    };
    let segment = path.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
    )
}

/// The column types of `out: &mut Emitter<(A, B, ...)>`.
fn column_types(out: &Type) -> syn::Result<Vec<Type>> {
    let error = || {
        syn::Error::new_spanned(
            out,
            "a table function's last argument is `out: &mut Emitter<(A, B, ...)>`",
        )
    };
    let Type::Reference(r) = out else {
        return Err(error());
    };
    if r.mutability.is_none() {
        return Err(error());
    }
    match type_args(&r.elem, "Emitter").as_deref() {
        Some([Type::Tuple(tuple)]) if !tuple.elems.is_empty() => {
            Ok(tuple.elems.iter().cloned().collect())
        }
        _ => Err(error()),
    }
}

pub(crate) fn expand(options: &Options, function: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &function.sig;
    check_plain(sig)?;
    only_options(
        options,
        "a table function",
        &["table", "partitioned", "columns"],
    )?;
    let ident = &sig.ident;
    let rust_name = syn::ext::IdentExt::unraw(ident).to_string();
    let Described { name, tail } =
        describe(options, rust_name.clone(), ident.span(), &function.attrs)?;
    let export = format!("wasql_table_{name}");
    let body_fn = format_ident!("__wasql_udf_body_{}", rust_name);
    let export_fn = format_ident!("__wasql_udf_export_{}", rust_name);

    let mut inputs = input_types(sig)?;
    let Some(out) = inputs.pop() else {
        return Err(syn::Error::new_spanned(
            sig,
            "a table function takes its arguments, then `out: &mut Emitter<(A, B, ...)>`",
        ));
    };
    let columns = column_types(&out)?;
    let Some(names) = &options.columns else {
        return Err(syn::Error::new(
            Span::call_site(),
            "a table function needs columns = [\"name\", ...], one per Emitter column",
        ));
    };
    if names.len() != columns.len() {
        return Err(syn::Error::new_spanned(
            &out,
            format!(
                "{} column names for the {} columns of the Emitter",
                names.len(),
                columns.len()
            ),
        ));
    }
    for (i, lit) in names.iter().enumerate() {
        if !is_valid_name(&lit.value()) {
            return Err(syn::Error::new_spanned(
                lit,
                "a column name must match [a-z_][a-z0-9_]*",
            ));
        }
        if names[..i].iter().any(|other| other.value() == lit.value()) {
            return Err(syn::Error::new_spanned(lit, "a repeated column name"));
        }
    }
    // The argument types: as declared, or inside `Rows<'_, T>`. A
    // partitioned function's `Rows<'_, &str>` has two elided lifetimes that
    // must be one: it is rewritten as `Rows<'__r, &'__r str>`, generic in '__r.
    let mut function = function.clone();
    let types: Vec<Type> = if options.partitioned {
        let mut types = Vec::new();
        for input in function.sig.inputs.iter_mut().take(inputs.len()) {
            let FnArg::Typed(arg) = input else {
                unreachable!("input_types refuses self")
            };
            let inner = match type_args(&arg.ty, "Rows").as_deref() {
                Some([inner]) => (*inner).clone(),
                _ => {
                    return Err(syn::Error::new_spanned(
                        &arg.ty,
                        "a partitioned table function takes its arguments as `Rows<'_, T>`",
                    ));
                }
            };
            let Type::Path(path) = &mut *arg.ty else {
                unreachable!("type_args matched a path")
            };
            let inner_r = with_lifetime(&inner, "'__r");
            path.path.segments.last_mut().expect("a path").arguments =
                PathArguments::AngleBracketed(syn::parse_quote!(<'__r, #inner_r>));
            types.push(inner);
        }
        function.sig.generics = syn::parse_quote!(<'__r>);
        types
    } else {
        inputs
    };

    let head = description_head(&name, Kind::Table, &export);
    let mut parts = vec![quote!(#head)];
    parts.extend(arg_type_parts(&types));
    parts.push(quote!("],\"columns\":["));
    for (i, (lit, ty)) in names.iter().zip(&columns).enumerate() {
        let open = format!(
            "{}{{\"name\":\"{}\",\"type\":\"",
            if i == 0 { "" } else { "," },
            lit.value()
        );
        parts.push(quote!(#open));
        parts.push(quote!(<#ty as ::wasql_udf::Column>::TYPE));
        parts.push(quote!("\"}"));
    }
    let close = if options.partitioned {
        "],\"partitioned\":true"
    } else {
        "]"
    };
    parts.push(quote!(#close));
    parts.push(quote!(#tail));
    let section = crate::section(&rust_name, &parts);
    let arg_types = arg_data_types(&types);

    let n = types.len();
    let readers = Readers::new(&types);
    let (decls, values) = (&readers.decls, &readers.values);
    let emitter = match with_lifetime(&out, "'__a") {
        Type::Reference(r) => r.elem,
        _ => unreachable!("checked by column_types"),
    };
    let call = quote! {
        ::wasql_udf::__private::TableResult::into_result(#ident(#(#values,)* &mut __out))?;
    };
    let part = if options.partitioned {
        let readers = &readers.readers;
        let elided = types.iter().map(|t| with_lifetime(t, "'_"));
        quote! {
            #(
                // SAFETY: Rows::new needs __start <= __end <= the reader's
                // nrows: check_bounds (run above, before any part) made the
                // bounds start at 0, never decrease and end at __nrows, the
                // nrows every reader was made for.
                let #values = unsafe { ::wasql_udf::Rows::<#elided>::new(&#readers, __start, __end) };
            )*
            #call
        }
    } else {
        let dense = readers.dense();
        let get_dense = readers.get_dense();
        let get = readers.get_or(quote!(continue));
        quote! {
            if #dense {
                for __row in __start..__end {
                    #get_dense
                    #call
                }
            } else {
                for __row in __start..__end {
                    #get
                    #call
                }
            }
        }
    };

    Ok(quote! {
        #function

        #[doc(hidden)]
        #[allow(dead_code, non_snake_case, clippy::all)]
        pub fn #body_fn<'__a>(
            __views: &'__a [::wasql_udf::ArrayView<'__a>],
            __nrows: usize,
            __bounds: &[u32],
        ) -> ::core::result::Result<::std::vec::Vec<::wasql_udf::ArrayData>, ::std::string::String> {
            if __views.len() != #n {
                return ::core::result::Result::Err(::std::format!(
                    "called with {} arguments, the function takes {}", __views.len(), #n));
            }
            ::wasql_udf::__private::check_bounds(__bounds, __nrows)?;
            #(#decls)*
            let mut __out = <#emitter>::new(__nrows, ::wasql_udf::__private::data_hint(__views, __nrows));
            for (__part, __range) in __bounds.windows(2).enumerate() {
                __out.start_part(__part as u32);
                let (__start, __end) = (__range[0] as usize, __range[1] as usize);
                #part
            }
            ::core::result::Result::Ok(__out.finish())
        }

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[allow(dead_code, non_snake_case)]
        // SAFETY (of the attribute): `wasql_table_<name>` is unique in the
        // module, since the SQL name is.
        #[unsafe(export_name = #export)]
        pub extern "C" fn #export_fn(
            args: i32, nargs: i32, nrows: i32, bounds: i32, nparts: i32, out: i32, err: i32,
        ) -> i32 {
            // SAFETY: run_table needs the arguments of a call made as
            // udfs/ABI.md §9 says (argument structs, nparts + 1 bounds,
            // 1 + ncolumns writable out structs for the columns declared here,
            // a writable err): only the host calls this export, and it keeps
            // to the ABI (see "What the host guarantees" in wasql_udf::ffi).
            unsafe {
                ::wasql_udf::__private::run_table(
                    args, nargs, nrows, bounds, nparts, out, err, #arg_types, #body_fn,
                )
            }
        }

        #section
    })
}
