//! `#[counted]`: its arguments (`args.rs`), their rules (`rules.rs`) and the expansion.

mod args;
mod rules;

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ItemFn;
use syn::ext::IdentExt;

use crate::common::{Function, expand_fn};
use args::CountedArgs;
use rules::{CountedOptions, DEFAULT_BUCKETS, ObjectiveOptions, counted_options};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    expand_fn::<CountedArgs, _>("counted", args, item, counted_options, |_, _, _| {}, wrap)
}

fn wrap(function: ItemFn, options: CountedOptions) -> TokenStream {
    let function = Function::new(function);
    let sig = &function.sig;
    let name = options
        .name
        .unwrap_or_else(|| sig.ident.unraw().to_string());
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let concurrent = options.concurrent;

    let (histogram_static, timing, histogram) = histogram(options.duration, options.buckets);
    let objective = objective(options.objective);
    let statics = quote! {
        #histogram_static
        static __TEEI_METRICS: ::teei_obs::__private::FunctionMetrics =
            ::teei_obs::__private::FunctionMetrics::new(#histogram, #concurrent, #objective);
        #[::teei_obs::__private::linkme::distributed_slice(::teei_obs::__private::TEEI_OBS_FUNCTIONS)]
        #[linkme(crate = ::teei_obs::__private::linkme)]
        #[allow(unsafe_code)]
        static __TEEI_ENTRY: ::teei_obs::__private::FunctionEntry =
            ::teei_obs::__private::FunctionEntry::new(
                #name,
                ::core::module_path!(),
                ::core::file!(),
                #line,
                ::teei_obs::__private::Instrumentation::Counted(&__TEEI_METRICS),
            );
        let __teei_call =
            ::teei_obs::__private::Call::<_, #concurrent>::start(&__TEEI_METRICS, #timing);
    };
    let body = if function.diverges() {
        // Never returns normally: the guard counts the panic as it unwinds.
        let block = &function.block;
        quote! {
            #statics
            #block
        }
    } else {
        let annotation = function.return_annotation();
        let body = function.body_expr();
        let await_ = function.sig.asyncness.map(|_| quote!(.await));
        quote! {
            #statics
            #[allow(clippy::redundant_closure_call)]
            let __teei_ret #annotation = #body #await_;
            {
                #[allow(unused_imports)]
                use ::teei_obs::__private::{AnyOutcome as _, ResultOutcome as _};
                __teei_call.finish((&__teei_ret).__teei_outcome());
            }
            __teei_ret
        }
    };
    function.assemble(body)
}

/// With `duration`: the histogram's `static` and the two ways the call and the entry refer
/// to it (`NO_TIMING` and `None` without).
fn histogram(duration: bool, buckets: Option<Vec<f64>>) -> (TokenStream, TokenStream, TokenStream) {
    if duration {
        let bounds = buckets.unwrap_or_else(|| DEFAULT_BUCKETS.to_vec());
        let count = bounds.len();
        // Row: one cell per bucket, the +Inf bucket, the sum; padded to cache lines.
        let stride = (count + 2).div_ceil(8) * 8;
        let nanos = bounds
            .iter()
            .map(|seconds| Literal::u64_suffixed((seconds * 1e9).round() as u64));
        let seconds = bounds.iter().map(|seconds| Literal::f64_suffixed(*seconds));
        let count = Literal::usize_unsuffixed(count);
        let stride = Literal::usize_unsuffixed(stride);
        (
            quote! {
                static __TEEI_HISTOGRAM: ::teei_obs::__private::Histogram<#count, #stride> =
                    ::teei_obs::__private::Histogram::new([#(#seconds),*], [#(#nanos),*]);
            },
            quote!(&__TEEI_HISTOGRAM),
            quote!(::core::option::Option::Some(&__TEEI_HISTOGRAM)),
        )
    } else {
        (
            quote!(),
            quote!(&::teei_obs::__private::NO_TIMING),
            quote!(::core::option::Option::None),
        )
    }
}

/// The `Objective` the entry carries, as `Option` tokens.
fn objective(objective: Option<ObjectiveOptions>) -> TokenStream {
    let option = |value: Option<TokenStream>| match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    };
    option(objective.map(|(success, latency)| {
        let success = option(success.map(|s| Literal::f64_suffixed(s).into_token_stream()));
        let latency = option(latency.map(|(seconds, within)| {
            let (seconds, within) = (
                Literal::f64_suffixed(seconds),
                Literal::f64_suffixed(within),
            );
            quote!((#seconds, #within))
        }));
        quote!(::teei_obs::__private::Objective::new(#success, #latency))
    }))
}
