//! `#[traced]`: its arguments (`args.rs`), their rules (`rules.rs`) and the expansion.

mod args;
mod rules;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::ext::IdentExt;

use crate::common::{Function, expand_fn};
use args::{Format, TracedArgs};
use rules::{TracedOptions, check_traced_params, traced_options};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    expand_fn::<TracedArgs, _>(
        "traced",
        args,
        item,
        traced_options,
        check_traced_params,
        wrap,
    )
}

fn formatted(format: Format, value: TokenStream) -> TokenStream {
    match format {
        Format::Display => quote!(::teei_obs::__private::tracing::field::display(#value)),
        Format::Debug => quote!(::teei_obs::__private::tracing::field::debug(#value)),
    }
}

fn wrap(function: ItemFn, options: TracedOptions) -> TokenStream {
    let function = Function::new(function);
    let sig = &function.sig;
    let fn_name = sig.ident.unraw().to_string();
    let span_name = options.name.clone().unwrap_or_else(|| fn_name.clone());
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let level = format_ident!("{}", options.level);
    let level = quote!(::teei_obs::__private::tracing::Level::#level);
    let kind = options.kind;
    let fields = options.fields.as_ref().map(|fields| quote!(, #fields));
    // Every traced span can end in error: by its `err`, or by a panic unwinding through it.
    let status_field =
        quote!(, otel.status_description = ::teei_obs::__private::tracing::field::Empty);

    let statics = quote! {
        static __TEEI_TRACED: ::teei_obs::__private::TracedInfo =
            ::teei_obs::__private::TracedInfo::new(#span_name, #level, #kind);
        #[::teei_obs::__private::linkme::distributed_slice(::teei_obs::__private::TEEI_OBS_FUNCTIONS)]
        #[linkme(crate = ::teei_obs::__private::linkme)]
        #[allow(unsafe_code)]
        static __TEEI_TRACE_ENTRY: ::teei_obs::__private::FunctionEntry =
            ::teei_obs::__private::FunctionEntry::new(
                #fn_name,
                ::core::module_path!(),
                ::core::file!(),
                #line,
                ::teei_obs::__private::Instrumentation::Traced(&__TEEI_TRACED),
            );
        let __teei_span = ::teei_obs::__private::tracing::span!(
            target: ::core::module_path!(),
            #level,
            #span_name,
            otel.kind = #kind
            #fields
            #status_field
        );
    };

    let on_error = options.err.map(|(span, format)| on_error(span, format));
    let on_return = options
        .ret
        .map(|(span, format)| on_return(span, format, &level));

    let body = if function.diverges() {
        let block = &function.block;
        quote! {
            #statics
            let __teei_guard = __teei_span.enter();
            #block
        }
    } else {
        let annotation = function.return_annotation();
        let body = function.body_expr();
        let call = guarded_call(function.sig.asyncness.is_some(), body);
        quote! {
            #statics
            let __teei_ret #annotation = #call;
            #on_error
            #on_return
            __teei_ret
        }
    };
    function.assemble(body)
}

/// With `err`: an `Err` return sets the span's status and is reported once, as an event
/// with the error's type and chain; any other return has recovered from whatever its
/// traced callees reported.
fn on_error(span: proc_macro2::Span, format: Format) -> TokenStream {
    let value = formatted(format, quote!(__teei_error));
    quote_spanned! {span=>
        if let ::core::result::Result::Err(__teei_error) = &__teei_ret {
            __teei_span.record("otel.status_description", #value);
            #[allow(unused_imports)]
            use ::teei_obs::__private::{
                ViaAsRef as _, ViaAsRefShared as _, ViaError as _, ViaNothing as _,
            };
            let __teei_probe = ::teei_obs::__private::ErrorProbe(__teei_error);
            let __teei_value = (&&&__teei_probe).error_value();
            let __teei_text = ::std::format!("{:?}", #value);
            // Once per error: not again where a traced callee already reported it.
            if ::teei_obs::__private::reports::first_report(&__teei_span, &__teei_text, __teei_value) {
                let __teei_chain = ::teei_obs::__private::reports::chain(__teei_value);
                ::teei_obs::__private::tracing::event!(
                    target: ::core::module_path!(),
                    parent: &__teei_span,
                    ::teei_obs::__private::tracing::Level::ERROR,
                    "error.type" = (&&&__teei_probe).type_name(),
                    "error.chain" = __teei_chain.as_deref(),
                    error = __teei_value,
                    "{}",
                    __teei_text
                );
            }
        } else {
            ::teei_obs::__private::reports::recovered(&__teei_span);
        }
    }
}

/// With `ret`: the returned value as an event in the span.
fn on_return(span: proc_macro2::Span, format: Format, level: &TokenStream) -> TokenStream {
    let value = formatted(format, quote!(&__teei_ret));
    quote_spanned! {span=>
        ::teei_obs::__private::tracing::event!(
            target: ::core::module_path!(),
            parent: &__teei_span,
            #level,
            return_value = #value,
            "return"
        );
    }
}

/// The call of the original body, marking the span when a panic unwinds through it (on
/// each poll, for `async`).
fn guarded_call(is_async: bool, body: TokenStream) -> TokenStream {
    if is_async {
        quote! {
            ::teei_obs::__private::PanicMarked::new(
                #body,
                ::core::clone::Clone::clone(&__teei_span),
            ).await
        }
    } else {
        quote! {{
            let __teei_guard = __teei_span.enter();
            let __teei_mark = ::teei_obs::__private::PanicMark::new(&__teei_span);
            #[allow(clippy::redundant_closure_call)]
            let __teei_ret = #body;
            __teei_mark.disarm();
            __teei_ret
        }}
    }
}
