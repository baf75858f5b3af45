//! Navigation shared by several features' pages.

use leptos::prelude::*;

#[component]
pub fn AdminNav() -> impl IntoView {
    view! {
        <nav class="subnav" aria-label="Admin">
            <a href="/admin">"Approvals"</a>
            <a href="/admin/workshops">"Workshops & fees"</a>
            <a href="/admin/requests">"Requests & routing"</a>
            <a href="/admin/revenue">"Revenue"</a>
            <a href="/admin/payouts">"Payouts"</a>
            <a href="/admin/orders">"Orders & refunds"</a>
            <a href="/admin/reconciliation">"Reconciliation"</a>
            <a href="/admin/mailbox">"Mailbox"</a>
        </nav>
    }
}
