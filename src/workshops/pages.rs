//! The workshop sign-up page and the owner's dashboard.

use super::api::{get_workshop_dashboard, RegisterWorkshop, RemoveMechanic};
use super::{MemberRole, WorkshopDashboard, WorkshopStatus};
use crate::auth::pages::{hard_navigate, RoleGate};
use crate::auth::Role;
use crate::ui::{action_error, FormError, TextArea, TextField};
use crate::workshops::invites::api::{InviteMechanic, ResendInvite, RevokeInvite};
use crate::workshops::{format_bps, InviteState};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn WorkshopSignUpPage() -> impl IntoView {
    let action = ServerAction::<RegisterWorkshop>::new();
    let error = action_error(action);
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            hard_navigate(&path);
        }
    });
    view! {
        <Title text="Register your workshop" />
        <section class="card narrow wide-form">
            <h1>"Register your workshop"</h1>
            <p class="muted">
                "Bring your mechanics onto autodoctor. An admin reviews every workshop; once approved you "
                "can invite your mechanics by email and receive customers who choose you."
            </p>
            <ActionForm action=action attr:class="stack" attr:novalidate="true" attr:id="workshop-signup-form">
                <fieldset class="stack">
                    <legend>"You, the owner"</legend>
                    <TextField label="Your name" name="owner_name" autocomplete="name" maxlength=100 error=error />
                    <TextField label="Your email (to log in)" name="email" input_type="email" autocomplete="email" error=error />
                    <TextField label="Password" name="password" input_type="password" autocomplete="new-password" hint="8 to 128 characters." error=error />
                </fieldset>
                <fieldset class="stack">
                    <legend>"The workshop"</legend>
                    <TextField label="Workshop name" name="workshop_name" maxlength=120 error=error />
                    <TextField label="Contact email for customers" name="contact_email" input_type="email" hint="Leave empty to use your own." error=error />
                    <TextField label="Phone" name="phone" input_type="tel" autocomplete="tel" maxlength=40 error=error />
                    <TextField label="City" name="city" autocomplete="address-level2" maxlength=80 error=error />
                    <TextField label="Address" name="address" autocomplete="street-address" maxlength=200 error=error />
                    <TextField label="Specialties" name="specialties" hint="Separated by commas, e.g. brakes, diagnostics, electric vehicles." error=error />
                    <TextArea label="About the workshop" name="description" maxlength=2000 error=error />
                </fieldset>
                <FormError error=error />
                <button class="primary" type="submit" disabled=move || action.pending().get()>
                    "Register the workshop"
                </button>
            </ActionForm>
        </section>
    }
}

// The resource is created where the page starts, never inside the gated
// content (which may render more than once on the server), so hydration ids match.
#[component]
pub fn WorkshopDashboardPage() -> impl IntoView {
    let first = Resource::new(|| (), |_| get_workshop_dashboard());
    // The owner's parts, outside the island (plain HTML): staff get a 403 from
    // both and see neither.
    let trends = Resource::new(|| (), |_| super::trends::get_workshop_trends());
    let logo = Resource::new(|| (), |_| super::logo_pages::get_logo_settings());
    view! {
        <Title text="Your workshop" />
        <RoleGate role=Role::WorkshopMember children=move |_| view! {
            <Suspense fallback=|| view! { <p class="muted">"Loading your workshop…"</p> }>
                {move || first.get().map(|r| match r {
                    Ok(first) => view! { <LiveDashboard first /> }.into_any(),
                    Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
                })}
                {move || trends.get().and_then(Result::ok).map(|t| view! { <super::trends_pages::TrendsPanel t /> })}
                {move || logo.get().and_then(Result::ok).map(|settings| view! { <super::logo_pages::LogoForm settings /> })}
            </Suspense>
        } />
    }
}

/// An island: invites, resends, revocations and removals answer in place, and
/// the dashboard reloads after each.
#[island]
fn LiveDashboard(first: WorkshopDashboard) -> impl IntoView {
    let invite = ServerAction::<InviteMechanic>::new();
    let resend = ServerAction::<ResendInvite>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let remove = ServerAction::<RemoveMechanic>::new();
    let data = crate::ui::reload::reload_after(
        first,
        move || {
            invite.version().get() + resend.version().get() + revoke.version().get() + remove.version().get()
        },
        get_workshop_dashboard,
    );
    move || {
        data.get().map(|result| match result {
            Ok(d) => view! { <Dashboard d invite resend revoke remove /> }.into_any(),
            Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
        })
    }
}

#[component]
fn Dashboard(
    d: WorkshopDashboard,
    invite: ServerAction<InviteMechanic>,
    resend: ServerAction<ResendInvite>,
    revoke: ServerAction<RevokeInvite>,
    remove: ServerAction<RemoveMechanic>,
) -> impl IntoView {
    let w = d.workshop.clone();
    let is_owner = d.my_role == MemberRole::Owner;
    let active = w.status == WorkshopStatus::Active;
    let online = d.mechanics.iter().filter(|m| m.is_online).count();
    let invite_error = action_error(invite);
    let list_error = Signal::derive(move || {
        action_error(resend)
            .get()
            .or_else(|| action_error(revoke).get())
            .or_else(|| action_error(remove).get())
    });
    let invite_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(form)) = (invite.value().get(), invite_form.get()) {
            form.reset();
        }
    });
    let status_notice = match w.status {
        WorkshopStatus::Pending => Some(view! {
            <p class="notice warning" id="workshop-status-notice">
                "Your workshop is waiting for an admin's approval. You can invite mechanics once it is approved."
            </p>
        }.into_any()),
        WorkshopStatus::Rejected | WorkshopStatus::Suspended => Some(view! {
            <p class="notice error" id="workshop-status-notice">
                {format!("Your workshop is {}. ", w.status.label().to_lowercase())}
                {w.status_reason.clone().map(|r| format!("Reason: {r}")).unwrap_or_default()}
            </p>
        }.into_any()),
        WorkshopStatus::Active => None,
    };

    view! {
        <header class="page-header">
            <div>
                <h1 id="workshop-name">{w.name.clone()}</h1>
                <p>{w.city.clone()} " · " <span class=w.status.badge() id="workshop-status">{w.status.label()}</span></p>
            </div>
            {(d.my_role == MemberRole::Owner).then(|| view! {
                <a class="button" href="/workshop/profile" id="edit-profile">"Edit profile"</a>
            })}
        </header>
        {(!w.description.is_empty()).then(|| view! { <p id="workshop-description">{w.description.clone()}</p> })}
        {status_notice}
        <div class="stats">
            <div class="stat"><div class="value">{d.mechanics.len()}</div><div class="label">"Mechanics"</div></div>
            <div class="stat"><div class="value">{online}</div><div class="label">"Online now"</div></div>
            <div class="stat"><div class="value">{format_bps(w.platform_fee_bps)}</div><div class="label">"Platform fee"</div></div>
            <div class="stat">
                <div class="value">{d.invites.iter().filter(|i| i.state == InviteState::Pending).count()}</div>
                <div class="label">"Open invites"</div>
            </div>
        </div>
        {w.custom_fee_agreement.clone().map(|note| view! { <p class="muted small">"Fee agreement: " {note}</p> })}
        <section class="card" id="workshop-analytics">
            <h2>"Sessions"</h2>
            <super::analytics::AnalyticsRows rows=vec![d.analytics.clone()] />
        </section>

        <section class="card">
            <h2>"Mechanics"</h2>
            <FormError error=list_error />
            {if d.mechanics.is_empty() {
                view! { <p class="muted">"No mechanics yet. Invite them by email below."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table id="mechanics-table">
                            <thead><tr><th>"Name"</th><th>"Email"</th><th>"Status"</th><th class="num">"Sessions served"</th><th></th></tr></thead>
                            <tbody>
                                {d.mechanics.iter().map(|m| {
                                    let id = m.user_id.to_string();
                                    view! {
                                        <tr>
                                            <td>{m.name.clone()}</td>
                                            <td>{m.email.clone()}</td>
                                            <td>
                                                {if m.is_online {
                                                    view! { <span class="badge success">{format!("Online · {}/{} busy", m.active_sessions, m.capacity)}</span> }.into_any()
                                                } else {
                                                    view! { <span class="badge">"Offline"</span> }.into_any()
                                                }}
                                            </td>
                                            <td class="num">{m.sessions_served}</td>
                                            <td>
                                                {is_owner.then(|| view! {
                                                    <ActionForm action=remove attr:class="inline-form">
                                                        <input type="hidden" name="mechanic_id" value=id />
                                                        <button type="submit" class="small danger">"Remove"</button>
                                                    </ActionForm>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>

        <section class="card">
            <h2>"Invite a mechanic"</h2>
            {if !is_owner {
                view! { <p class="muted">"Only the workshop's owner can invite mechanics."</p> }.into_any()
            } else if !active {
                view! { <p class="muted">"Invites open once an admin has approved your workshop."</p> }.into_any()
            } else {
                view! {
                    <p class="muted small">
                        "They get an email with a link. Mechanics who join through it are linked to your workshop "
                        "and approved at once; the link works once and expires after 7 days."
                    </p>
                    <ActionForm action=invite node_ref=invite_form attr:class="stack" attr:id="invite-form" attr:novalidate="true">
                        <TextField label="Mechanic's email" name="email" input_type="email" error=invite_error />
                        <FormError error=invite_error />
                        <Show when=move || matches!(invite.value().get(), Some(Ok(())))>
                            <p class="notice success" role="status">"Invite sent."</p>
                        </Show>
                        <button type="submit" class="primary" disabled=move || invite.pending().get()>"Send invite"</button>
                    </ActionForm>
                }.into_any()
            }}
            {(!d.invites.is_empty()).then(|| view! {
                <h3 class="invites-heading">"Invites"</h3>
                <div class="table-wrap">
                    <table id="invites-table">
                        <thead><tr><th>"Email"</th><th>"State"</th><th>"Sent"</th><th>"Expires"</th><th></th></tr></thead>
                        <tbody>
                            {d.invites.iter().map(|i| {
                                let id = i.id.to_string();
                                let id2 = id.clone();
                                let open = matches!(i.state, InviteState::Pending | InviteState::Expired);
                                view! {
                                    <tr data-invite-email=i.email.clone()>
                                        <td>{i.email.clone()}</td>
                                        <td><span class=i.state.badge()>{i.state.label()}</span></td>
                                        <td>{i.created_at.format("%Y-%m-%d").to_string()}
                                            {(i.send_count > 1).then(|| format!(" (sent {} times)", i.send_count))}</td>
                                        <td>{i.expires_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                        <td>
                                            {(open && is_owner && active).then(|| view! {
                                              <div class="row">
                                                <ActionForm action=resend attr:class="inline-form">
                                                    <input type="hidden" name="invite_id" value=id />
                                                    <button type="submit" class="small">"Resend"</button>
                                                </ActionForm>
                                                <ActionForm action=revoke attr:class="inline-form">
                                                    <input type="hidden" name="invite_id" value=id2 />
                                                    <button type="submit" class="small danger">"Revoke"</button>
                                                </ActionForm>
                                              </div>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
        </section>
    }
}
