//! The application shell, the layout and the route table.

use crate::admin::pages::{AdminHomePage, AdminWorkshopsPage, MailboxPage};
use crate::admin::requests_page::AdminRequestsPage;
use crate::auth::api::get_current_user;
use crate::auth::pages::{LogOutButton, LoginPage, SignUpPage, UserResource};
use crate::auth::Role;
use crate::booking::order_page::OrderPage;
use crate::booking::pages::{BookPage, CheckoutReturnPage, MySessionsPage};
use crate::directory::pages::WorkshopDirectoryPage;
use crate::earnings::pages::{AdminRevenuePage, MechanicEarningsPage, WorkshopEarningsPage};
use crate::home::HomePage;
use crate::mechanics::pages::MechanicApplyPage;
use crate::mechanics::profile_page::MechanicProfilePage;
use crate::notifications::pages::AccountWithMailPage;
use crate::offers::dashboard::MechanicDashboardPage;
use crate::payouts::pages::{AdminOrdersPage, AdminPayoutsPage, AdminReconciliationPage, PayoutSetupPage};
use crate::sessions::pages::SessionRoomPage;
use crate::sessions::report::print::ReportPrintPage;
use crate::sessions::report::share::SharedReportPage;
use crate::signup::pages::{CheckEmailPage, ConfirmSignUpPage};
use crate::workshops::invites::pages::InvitePage;
use crate::workshops::pages::{WorkshopDashboardPage, WorkshopSignUpPage};
use crate::workshops::profile_page::WorkshopProfilePage;
use crate::workshops::public_page::WorkshopPublicPage;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="description" content="autodoctor: a remote diagnostic session with a qualified mechanic, from your own workshop or the first one available." />
                <link rel="icon" href="/favicon.ico" />
                <leptos_meta::HashedStylesheet options=options.clone() id="leptos" />
                <crate::ui::islands::IslandScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Who is logged in: loaded once per page, read by the header and guarded pages.
    let user: UserResource = Resource::new_blocking(|| (), |_| get_current_user());
    provide_context(user);

    view! {
        <Title formatter=|text: String| {
            if text.is_empty() { "autodoctor".to_string() } else { format!("{text} · autodoctor") }
        } />
        <Router>
            <SiteHeader />
            <main class="page">
                <ErrorBoundary fallback=|errors| {
                    view! {
                        <section class="card error-card" role="alert">
                            <h1>"Something went wrong"</h1>
                            <ul>
                                {move || {
                                    errors
                                        .get()
                                        .into_iter()
                                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                                        .collect_view()
                                }}
                            </ul>
                            <p><a href="/">"Back to the home page"</a></p>
                        </section>
                    }
                }>
                    // Pages render completely on the server (SsrMode::Async) so that they,
                    // and their forms, work before or without the WebAssembly.
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                        <Route path=path!("/signup") view=SignUpPage ssr=SsrMode::Async />
                        <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                        <Route path=path!("/account") view=AccountWithMailPage ssr=SsrMode::Async />
                        <Route path=path!("/workshops") view=WorkshopDirectoryPage ssr=SsrMode::Async />
                        <Route path=path!("/workshops/join") view=WorkshopSignUpPage ssr=SsrMode::Async />
                        <Route path=path!("/workshops/:id") view=WorkshopPublicPage ssr=SsrMode::Async />
                        <Route path=path!("/book") view=BookPage ssr=SsrMode::Async />
                        <Route path=path!("/sessions") view=MySessionsPage ssr=SsrMode::Async />
                        <Route path=path!("/checkout/return") view=CheckoutReturnPage ssr=SsrMode::Async />
                        <Route path=path!("/orders/:id") view=OrderPage ssr=SsrMode::Async />
                        <Route path=path!("/session/:id") view=SessionRoomPage ssr=SsrMode::Async />
                        <Route path=path!("/session/:id/report") view=ReportPrintPage ssr=SsrMode::Async />
                        <Route path=path!("/report/:token") view=SharedReportPage ssr=SsrMode::Async />
                        <Route path=path!("/admin/requests") view=AdminRequestsPage ssr=SsrMode::Async />
                        <Route path=path!("/admin/revenue") view=AdminRevenuePage ssr=SsrMode::Async />
                        <Route path=path!("/admin/payouts") view=AdminPayoutsPage ssr=SsrMode::Async />
                        <Route path=path!("/admin/orders") view=AdminOrdersPage ssr=SsrMode::Async />
                        <Route path=path!("/admin/reconciliation") view=AdminReconciliationPage ssr=SsrMode::Async />
                        <Route path=path!("/workshop/payouts") view=PayoutSetupPage ssr=SsrMode::Async />
                        <Route path=path!("/mechanic/payouts") view=PayoutSetupPage ssr=SsrMode::Async />
                        <Route path=path!("/workshop/earnings") view=WorkshopEarningsPage ssr=SsrMode::Async />
                        <Route path=path!("/mechanic/earnings") view=MechanicEarningsPage ssr=SsrMode::Async />
                        <Route path=path!("/workshop") view=WorkshopDashboardPage ssr=SsrMode::Async />
                        <Route path=path!("/mechanics/apply") view=MechanicApplyPage ssr=SsrMode::Async />
                        <Route path=path!("/mechanic") view=MechanicDashboardPage ssr=SsrMode::Async />
                        <Route path=path!("/mechanic/profile") view=MechanicProfilePage ssr=SsrMode::Async />
                        <Route path=path!("/workshop/profile") view=WorkshopProfilePage ssr=SsrMode::Async />
                        <Route path=path!("/invite/:token") view=InvitePage ssr=SsrMode::Async />
                        <Route path=path!("/confirm/:token") view=ConfirmSignUpPage ssr=SsrMode::Async />
                        <Route path=path!("/check-email") view=CheckEmailPage />
                        <Route path=path!("/admin") view=AdminHomePage ssr=SsrMode::Async />
                        <Route path=path!("/admin/workshops") view=AdminWorkshopsPage ssr=SsrMode::Async />
                        <Route path=path!("/admin/mailbox") view=MailboxPage ssr=SsrMode::Async />
                    </Routes>
                </ErrorBoundary>
            </main>
            <SiteFooter />
        </Router>
    }
}

#[component]
fn SiteHeader() -> impl IntoView {
    view! {
        <header class="site-header">
            <div class="container header-row">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"AD"</span>
                    <span>"autodoctor"</span>
                </A>
                <nav class="main-nav" aria-label="Main">
                    <A href="/workshops">"Workshops"</A>
                    <Transition fallback=|| ()>
                        <UserMenu />
                    </Transition>
                </nav>
            </div>
        </header>
    }
}

/// The links for the logged-in person's role, or the log-in links.
#[component]
fn UserMenu() -> impl IntoView {
    let user = expect_context::<UserResource>();
    move || {
        user.get().map(|result| match result {
            Ok(Some(u)) => {
                let start = match u.role {
                    Role::Customer => Some(("/sessions", "My sessions")),
                    Role::Mechanic => Some(("/mechanic", "Dashboard")),
                    Role::WorkshopMember => Some(("/workshop", "My workshop")),
                    Role::Admin => Some(("/admin", "Admin")),
                };
                let earnings = match u.role {
                    Role::Mechanic => Some("/mechanic/earnings"),
                    Role::WorkshopMember => Some("/workshop/earnings"),
                    _ => None,
                };
                view! {
                    {start.map(|(href, label)| view! { <A href=href>{label}</A> })}
                    {earnings.map(|href| view! { <A href=href>"Earnings"</A> })}
                    <A href="/account">"Account"</A>
                    <span class="muted small user-name" id="signed-in-as">{u.name.clone()}</span>
                    <LogOutButton />
                }
            }
            .into_any(),
            _ => view! {
                <A href="/login">"Log in"</A>
                <a class="button small primary" href="/signup">"Sign up"</a>
            }
            .into_any(),
        })
    }
}

#[component]
fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <div class="container">
                <p>"autodoctor · remote diagnostics by qualified mechanics"</p>
            </div>
        </footer>
    }
}

/// The page for every path that matches no route; answers 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <section class="card narrow center">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
            <p><a class="button" href="/">"Go to the home page"</a></p>
        </section>
    }
}
