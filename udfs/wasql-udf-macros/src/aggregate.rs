//! `#[udf]` on `impl Aggregate for T`: the row loop, the six exports of
//! udfs/ABI.md §8 and the description line.

use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{ImplItem, ItemImpl, Type};

use wasql_abi::{Kind, export};

use crate::{
    Described, Options, Readers, arg_data_types, arg_type_parts, describe, description_head,
    only_options, rename_lifetimes, section,
};

/// `GeoMean` -> `geo_mean`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The argument types of one row, from `type Args<'a> = ...;` with `'a`
/// renamed to `lifetime`: the elements of a tuple, or the one type.
fn args_of(block: &ItemImpl, lifetime: &str) -> syn::Result<(Vec<Type>, bool)> {
    let args = block.items.iter().find_map(|item| match item {
        ImplItem::Type(t) if t.ident == "Args" => Some(t),
        _ => None,
    });
    let Some(args) = args else {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "an Aggregate impl needs `type Args<'a> = ...;`",
        ));
    };
    let named = args.generics.lifetimes().next().map(|l| &l.lifetime.ident);
    let ty = rename_lifetimes(&args.ty, named, lifetime);
    Ok(match ty {
        Type::Tuple(tuple) => (tuple.elems.into_iter().collect(), true),
        ty => (vec![ty], false),
    })
}

pub(crate) fn expand(options: &Options, block: &ItemImpl) -> syn::Result<TokenStream2> {
    only_options(options, "an aggregate", &[])?;
    let is_aggregate = block
        .trait_
        .as_ref()
        .and_then(|(_, path, _)| path.segments.last())
        .is_some_and(|s| s.ident == "Aggregate");
    if !is_aggregate {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "#[udf] goes on `impl Aggregate for T` (or on a function)",
        ));
    }
    if !block.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &block.generics,
            "an aggregate cannot be generic",
        ));
    }
    let ty = &block.self_ty;
    let Type::Path(path) = &**ty else {
        return Err(syn::Error::new_spanned(ty, "an aggregate is a named type"));
    };
    let type_ident = &path.path.segments.last().expect("a path").ident;
    let type_name = syn::ext::IdentExt::unraw(type_ident).to_string();
    let Described { name, tail } = describe(
        options,
        snake_case(&type_name),
        type_ident.span(),
        &block.attrs,
    )?;
    let export = format!("wasql_agg_{name}");

    let (static_types, _) = args_of(block, "'static")?;
    let (types, tuple) = args_of(block, "'__a")?;
    let arg_types = arg_data_types(&static_types);
    let head = description_head(&name, Kind::Aggregate, &export);
    let mut parts = vec![quote!(#head)];
    parts.extend(arg_type_parts(&static_types));
    parts.push(quote!("],\"returns\":\""));
    parts.push(quote!(
        <<#ty as ::wasql_udf::Aggregate>::Output as ::wasql_udf::__private::IntoRet>::TYPE
    ));
    parts.push(quote!("\""));
    parts.push(quote!(#tail));
    let section = section(&type_name, &parts);

    let readers = Readers::new(&types);
    let (decls, values) = (&readers.decls, &readers.values);
    let dense = readers.dense();
    let get_dense = readers.get_dense();
    let get = readers.get_or(quote!(continue));
    let args = if tuple {
        quote!((#(#values,)*))
    } else {
        quote!(#(#values)*)
    };
    // Emitted inside fold_rows, whose contract (FoldRows::fold_rows) is
    // that every id is below __groups.len().
    let update = quote! {
        // SAFETY: get_unchecked_mut needs __id < __groups.len(): the
        // contract of the fold_rows this code is the body of (the caller,
        // Accumulator::update, checks every id first).
        let __group = unsafe { __groups.get_unchecked_mut(__id as usize) };
        <#ty as ::wasql_udf::Aggregate>::update(__group, #args);
    };

    let [new, update_export, merge, state, finish, drop] =
        export::AGGREGATE_SUFFIXES.map(|suffix| format!("{export}{suffix}"));
    Ok(quote! {
        impl ::wasql_udf::__private::FoldRows for #ty {
            const ARG_TYPES: &'static [::wasql_udf::DataType] = #arg_types;

            #[allow(clippy::all)]
            unsafe fn fold_rows<'__a>(
                __groups: &mut [Self],
                __views: &'__a [::wasql_udf::ArrayView<'__a>],
                __ids: &[u32],
            ) -> ::core::result::Result<(), ::std::string::String> {
                let __nrows = __ids.len();
                #(#decls)*
                if #dense {
                    for (__row, &__id) in __ids.iter().enumerate() {
                        #get_dense
                        #update
                    }
                } else {
                    for (__row, &__id) in __ids.iter().enumerate() {
                        #get
                        #update
                    }
                }
                ::core::result::Result::Ok(())
            }
        }

        // The exports of udfs/ABI.md §8; only the host calls them, and it
        // keeps to the ABI (see "What the host guarantees" in
        // wasql_udf::ffi): that is each rt:: function's contract.
        // SAFETY (of the export_name attributes): the six names are
        // `wasql_agg_<name>_<suffix>`, unique in the module because the SQL
        // name is.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use ::wasql_udf::__private as rt;

            #[unsafe(export_name = #new)]
            extern "C" fn new() -> i32 {
                rt::agg_new::<#ty>()
            }

            #[unsafe(export_name = #update_export)]
            extern "C" fn update(acc: i32, args: i32, nargs: i32, nrows: i32, groups: i32, ngroups: i32, err: i32) -> i32 {
                // SAFETY: agg_update needs a live handle of this type, nargs
                // argument structs, nrows group ids and a writable err: the
                // host's call of E_update (§8).
                unsafe { rt::agg_update::<#ty>(acc, args, nargs, nrows, groups, ngroups, err) }
            }

            #[unsafe(export_name = #merge)]
            extern "C" fn merge(acc: i32, states: i32, nrows: i32, groups: i32, ngroups: i32, err: i32) -> i32 {
                // SAFETY: agg_merge needs a live handle of this type, a binary
                // states struct, nrows group ids and a writable err: the
                // host's call of E_merge (§8).
                unsafe { rt::agg_merge::<#ty>(acc, states, nrows, groups, ngroups, err) }
            }

            #[unsafe(export_name = #state)]
            extern "C" fn state(acc: i32, n: i32, out: i32, err: i32) -> i32 {
                // SAFETY: agg_emit needs a live handle of this type and
                // writable out and err: the host's call of E_state (§8).
                unsafe { rt::agg_emit::<#ty>(acc, n, out, err, false) }
            }

            #[unsafe(export_name = #finish)]
            extern "C" fn finish(acc: i32, n: i32, out: i32, err: i32) -> i32 {
                // SAFETY: agg_emit needs a live handle of this type and
                // writable out and err: the host's call of E_finish (§8).
                unsafe { rt::agg_emit::<#ty>(acc, n, out, err, true) }
            }

            #[unsafe(export_name = #drop)]
            extern "C" fn drop(acc: i32) {
                // SAFETY: agg_drop needs a live handle of this type, not used
                // again: the host calls E_drop once per handle, last (§8).
                unsafe { rt::agg_drop::<#ty>(acc) }
            }
        };

        #section
    })
}
