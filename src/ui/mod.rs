//! Small shared building blocks for pages.

pub mod csv;
pub mod gate;
pub mod islands;
pub mod live;
pub mod nav;
pub mod reload;

pub use gate::{RequireLogin, RoleGate};
pub use nav::AdminNav;

/// Formats integer cents as money for display, e.g. `2900, "usd"` -> `$29.00`.
pub fn format_money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let (units, rest) = (abs / 100, abs % 100);
    let mut grouped = String::new();
    let digits = units.to_string();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    match currency.to_ascii_lowercase().as_str() {
        "usd" => format!("{sign}${grouped}.{rest:02}"),
        "eur" => format!("{sign}€{grouped}.{rest:02}"),
        "gbp" => format!("{sign}£{grouped}.{rest:02}"),
        other => format!("{sign}{grouped}.{rest:02} {}", other.to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::format_money;

    #[test]
    fn formats_cents_exactly() {
        assert_eq!(format_money(2900, "usd"), "$29.00");
        assert_eq!(format_money(5, "usd"), "$0.05");
        assert_eq!(format_money(-1234, "usd"), "-$12.34");
        assert_eq!(format_money(123456789, "eur"), "€1,234,567.89");
        assert_eq!(format_money(100, "cad"), "1.00 CAD");
        assert_eq!(format_money(i64::MIN, "usd"), "-$92,233,720,368,547,758.08");
    }
}

use crate::error::AppError;
use leptos::prelude::*;

/// The error of the last run of a server action, if it failed.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

/// A labelled input with its field-level error underneath.
#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] readonly: bool,
    #[prop(optional)] maxlength: Option<usize>,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let message = move || error.get().and_then(|e| e.field_message(name));
    view! {
        <div class="field" class:invalid=move || message().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <span class="hint">{h}</span> })}
            <input
                id=id
                name=name
                type=input_type
                autocomplete=autocomplete
                value=value
                required=required
                readonly=readonly
                maxlength=maxlength.map(|m| m.to_string())
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=error_id.clone()
            />
            <span class="field-error" id=error_id role="alert">{message}</span>
        </div>
    }
}

/// A multi-line text input with its field-level error.
#[component]
pub fn TextArea(
    label: &'static str,
    name: &'static str,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] maxlength: Option<usize>,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let message = move || error.get().and_then(|e| e.field_message(name));
    view! {
        <div class="field" class:invalid=move || message().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <span class="hint">{h}</span> })}
            <textarea
                id=id
                name=name
                maxlength=maxlength.map(|m| m.to_string())
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=error_id.clone()
            >
                {value.map(textarea_text).unwrap_or_default()}
            </textarea>
            <span class="field-error" id=error_id role="alert">{message}</span>
        </div>
    }
}

/// A textarea's initial text as the server writes it. Leptos writes a
/// `<textarea>`'s children unescaped, so stored text such as `</textarea><b>`
/// would end the element and become markup: on the server it is escaped here
/// (the browser decodes the entities back to the text). In the browser (an
/// island) the text becomes a text node and must stay as it is.
pub fn textarea_text(value: String) -> String {
    if cfg!(feature = "ssr") {
        value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    } else {
        value
    }
}

/// The form-level message of an error (for field errors: a summary line).
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <p class="error form-error" role="alert">
                    {e.to_string()}
                </p>
            }
        })
    }
}

/// A page's error: its message, and on the server the matching HTTP status
/// (someone else's order is a 404 page, not a 200 with an error on it).
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = axum::http::StatusCode::from_u16(error.status_code()) {
            response.set_status(status);
        }
    }
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}
