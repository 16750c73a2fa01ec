//! What `#[traced(...)]` accepts: every problem of meaning, collected in one list.

use proc_macro2::Span;
use syn::ItemFn;

use super::args::{Format, TRACED_OPTIONS, TracedArg, TracedArgs};
use crate::common::{Errors, quoted_list};
use teei_obs_shared::{LEVELS, SPAN_KINDS};

/// The checked options of `#[traced]`.
pub(crate) struct TracedOptions {
    pub(crate) name: Option<String>,
    /// `TRACE`, `DEBUG`, `INFO`, `WARN` or `ERROR`.
    pub(crate) level: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) skip: Vec<syn::Ident>,
    pub(crate) fields: Option<proc_macro2::TokenStream>,
    pub(crate) err: Option<(Span, Format)>,
    pub(crate) ret: Option<(Span, Format)>,
}

/// The options as given, before defaults: each `None` until seen.
#[derive(Default)]
struct Given {
    name: Option<String>,
    level: Option<&'static str>,
    kind: Option<&'static str>,
    skip: Option<Vec<syn::Ident>>,
    skip_all: Option<Span>,
    fields: Option<proc_macro2::TokenStream>,
    err: Option<(Span, Format)>,
    ret: Option<(Span, Format)>,
}

pub(crate) fn traced_options(args: TracedArgs, errors: &mut Errors) -> TracedOptions {
    let mut given = Given::default();
    for arg in args.0 {
        given.take(arg, errors);
    }
    if let (Some(_), Some(span)) = (&given.skip, given.skip_all) {
        errors.push(
            span,
            "#[traced] `skip_all` already skips every argument; drop `skip(..)`",
        );
    }
    TracedOptions {
        name: given.name,
        level: given.level.unwrap_or("INFO"),
        kind: given.kind.unwrap_or("internal"),
        skip: given.skip.unwrap_or_default(),
        fields: given.fields,
        err: given.err,
        ret: given.ret,
    }
}

impl Given {
    fn take(&mut self, arg: TracedArg, errors: &mut Errors) {
        match arg {
            TracedArg::Name(keyword, value) => {
                if value.value().trim().is_empty() {
                    errors.push(value.span(), "#[traced] `name` must not be empty");
                }
                once(&mut self.name, value.value(), keyword.span, "name", errors);
            }
            TracedArg::Level(keyword, value) => {
                if let Some(found) = level(&value, errors) {
                    once(&mut self.level, found, keyword.span, "level", errors);
                }
            }
            TracedArg::Kind(keyword, value) => {
                if let Some(found) = span_kind(&value, errors) {
                    once(&mut self.kind, found, keyword.span, "kind", errors);
                }
            }
            TracedArg::Skip(keyword, idents) => {
                let idents = idents.into_iter().collect();
                once(&mut self.skip, idents, keyword.span, "skip", errors);
            }
            TracedArg::SkipAll(keyword) => {
                let span = keyword.span;
                once(&mut self.skip_all, span, span, "skip_all", errors);
            }
            TracedArg::Fields(keyword, tokens) => {
                once(&mut self.fields, tokens, keyword.span, "fields", errors);
            }
            TracedArg::Err(keyword, format) => {
                let given = (keyword.span, format.map_or(Format::Display, |(_, f)| f));
                once(&mut self.err, given, keyword.span, "err", errors);
            }
            TracedArg::Ret(keyword, format) => {
                let given = (keyword.span, format.map_or(Format::Debug, |(_, f)| f));
                once(&mut self.ret, given, keyword.span, "ret", errors);
            }
            TracedArg::Unknown(ident) => errors.push(
                ident.span(),
                format!("unknown #[traced] option `{ident}`; expected one of {TRACED_OPTIONS}"),
            ),
        }
    }
}

/// The `tracing::Level` constant `level = "…"` names, in any case.
fn level(value: &syn::LitStr, errors: &mut Errors) -> Option<&'static str> {
    let text = value.value().to_ascii_lowercase();
    let found = LEVELS.iter().find(|(name, _)| *name == text);
    if found.is_none() {
        errors.push(
            value.span(),
            format!(
                "#[traced] unknown level {:?}; expected one of {}",
                value.value(),
                quoted_list(LEVELS.iter().map(|(name, _)| *name))
            ),
        );
    }
    found.map(|(_, constant)| *constant)
}

/// The span kind `kind = "…"` names.
fn span_kind(value: &syn::LitStr, errors: &mut Errors) -> Option<&'static str> {
    let found = SPAN_KINDS.iter().find(|kind| **kind == value.value());
    if found.is_none() {
        errors.push(
            value.span(),
            format!(
                "#[traced] unknown span kind {:?}; expected one of {}",
                value.value(),
                quoted_list(SPAN_KINDS.iter().copied())
            ),
        );
    }
    found.copied()
}

/// `skip(..)` must name parameters, and a skipped parameter cannot be recorded in
/// `fields(..)` by its bare name.
pub(crate) fn check_traced_params(options: &TracedOptions, function: &ItemFn, errors: &mut Errors) {
    let params: Vec<String> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(typed) => match &*typed.pat {
                syn::Pat::Ident(ident) => Some(ident.ident.to_string()),
                _ => None,
            },
            syn::FnArg::Receiver(_) => Some("self".to_owned()),
        })
        .collect();
    for ident in &options.skip {
        if !params.contains(&ident.to_string()) {
            errors.push(
                ident.span(),
                format!(
                    "#[traced] `skip` names `{ident}`, which is not a parameter of this function"
                ),
            );
        }
    }
    if let Some(fields) = &options.fields {
        let mut segment: Vec<proc_macro2::TokenTree> = Vec::new();
        let mut check = |segment: &mut Vec<proc_macro2::TokenTree>| {
            if let [proc_macro2::TokenTree::Ident(ident)] = segment.as_slice()
                && options.skip.iter().any(|skipped| skipped == ident)
            {
                errors.push(
                    ident.span(),
                    format!("#[traced] `{ident}` is skipped and cannot be recorded in `fields`"),
                );
            }
            segment.clear();
        };
        for tree in fields.clone() {
            match &tree {
                proc_macro2::TokenTree::Punct(punct) if punct.as_char() == ',' => {
                    check(&mut segment)
                }
                _ => segment.push(tree),
            }
        }
        check(&mut segment);
    }
}

/// Records the first occurrence of an option; a second is an error on its keyword.
fn once<T>(slot: &mut Option<T>, value: T, span: Span, option: &str, errors: &mut Errors) {
    crate::common::once("traced", slot, value, span, option, errors);
}
