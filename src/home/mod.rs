//! The home page: what autodoctor is, and the plans on sale.

use crate::plans::{list_plans, Plan};
use crate::ui::format_money;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Remote diagnostics by qualified mechanics" />
        <section class="hero">
            <div class="hero-text">
                <h1>"A mechanic looks at your car problem, today, over video."</h1>
                <p class="lead">
                    "Describe what your car is doing, pay for a session, and a qualified mechanic "
                    "joins you within minutes. Choose a workshop you trust, or take the first "
                    "mechanic available."
                </p>
                <div class="actions">
                    <a class="button primary" href="/workshops">"Find a workshop"</a>
                    <a class="button" href="/book">"Book any available mechanic"</a>
                </div>
            </div>
        </section>

        <section class="grid three how-it-works" aria-labelledby="how">
            <h2 id="how" class="span-all">"How it works"</h2>
            <article class="card">
                <h3>"1. Pick a plan"</h3>
                <p>"Fixed prices, paid up front. No surprise bills."</p>
            </article>
            <article class="card">
                <h3>"2. Choose who helps"</h3>
                <p>
                    "Only your chosen workshop, your workshop first and then others, or simply "
                    "the first mechanic free."
                </p>
            </article>
            <article class="card">
                <h3>"3. Talk it through"</h3>
                <p>"Chat with the mechanic, get a diagnosis and a plan for the repair."</p>
            </article>
        </section>

        <PlansToggle />

        <section class="grid two audiences">
            <article class="card">
                <h3>"Run a repair workshop?"</h3>
                <p>
                    "Bring your mechanics onto autodoctor, receive requests from customers who chose "
                    "you, and get paid out automatically."
                </p>
            </article>
            <article class="card">
                <h3>"Independent mechanic?"</h3>
                <p>"Apply, get approved, go online when it suits you, and earn per session."</p>
            </article>
        </section>
    }
}

/// The price list, folded until asked for: a `<details>` element, so it opens
/// and closes without any script, and the plans are in the page from the start.
#[component]
fn PlansToggle() -> impl IntoView {
    let plans = Resource::new(|| (), |_| list_plans());
    view! {
        <details class="card plans" id="plans">
            <summary id="plans-toggle" class="row between">
                <h2 id="plans-heading">"Plans and prices"</h2>
                <span class="button" aria-hidden="true">
                    <span class="when-closed">"Show plans"</span>
                    <span class="when-open">"Hide plans"</span>
                </span>
            </summary>
            <div id="plans-list">
                <Suspense fallback=|| view! { <p class="muted">"Loading plans…"</p> }>
                    {move || plans.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(plans) if plans.is_empty() => {
                            view! { <p class="muted">"No plans are on sale right now."</p> }.into_any()
                        }
                        Ok(plans) => view! { <PlanList plans /> }.into_any(),
                    })}
                </Suspense>
            </div>
        </details>
    }
}

#[component]
fn PlanList(plans: Vec<Plan>) -> impl IntoView {
    view! {
        <ul class="plan-list">
            {plans
                .into_iter()
                .map(|plan| {
                    view! {
                        <li class="plan" data-plan=plan.code.clone()>
                            <div>
                                <strong>{plan.name.clone()}</strong>
                                <span class="muted">{format!(" · {} minutes", plan.minutes)}</span>
                                <p>{plan.description.clone()}</p>
                            </div>
                            <span class="price">{format_money(plan.price_cents, &plan.currency)}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
