//! Every request runs to completion, even when its client goes away.
//!
//! Without this, a client that hangs up (or a proxy that times out) makes the
//! server drop the request's future wherever it is: between two statements of
//! a handler, or inside sqlx while it opens a transaction. The second is a
//! data-loss bug in sqlx 0.8: a `begin()` dropped after `BEGIN` is sent but
//! before its answer arrives queues no `ROLLBACK` (its guard looks at a
//! transaction depth that is not raised yet), so the pooled connection goes
//! back with a transaction open on the server, and the next statements run on
//! it are never committed (a checkout session the customer was just sent to
//! was then "No such payment"). Running each request in a task of its own,
//! which the hang-up does not cancel, closes both: the handler finishes, its
//! transactions commit or roll back, and the connection goes back clean.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

/// Runs the rest of the stack for `req` in its own task and waits for it.
pub async fn run_to_completion(req: Request, next: Next) -> Response {
    let span = tracing::Span::current();
    match tokio::spawn(next.run(req).instrument(span)).await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "a request's task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.")
                .into_response()
        }
    }
}
