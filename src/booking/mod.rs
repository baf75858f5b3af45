//! Booking: the checkout flow (plan, vehicle and problem, who helps, review, pay),
//! orders, and the customer's "my sessions" and return pages.

pub mod api;
#[cfg(feature = "ssr")]
pub mod live;
pub mod order_page;
pub mod pages;

use crate::dispatch::RoutingType;
use crate::error::FieldErrors;
use crate::plans::Plan;
pub use crate::status::{OrderStatus, RequestStatus, SessionStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The workshop chosen on the booking page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ChosenWorkshop {
    pub id: Uuid,
    pub name: String,
    pub city: String,
    pub mechanics_online: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookingOptions {
    pub plans: Vec<Plan>,
    pub workshop: Option<ChosenWorkshop>,
    /// Identifies this booking form: submitting it twice makes one order.
    pub request_key: Uuid,
}

/// One of the customer's bookings, as "my sessions" shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct CustomerOrder {
    pub order_id: Uuid,
    pub plan_name: String,
    pub amount_cents: i64,
    pub amount_refunded_cents: i64,
    pub currency: String,
    pub vehicle: String,
    pub routing_type: RoutingType,
    pub preferred_workshop_name: Option<String>,
    pub status: OrderStatus,
    pub checkout_url: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub request_status: Option<RequestStatus>,
    pub mechanic_name: Option<String>,
    pub serving_workshop_name: Option<String>,
    pub session_id: Option<Uuid>,
    pub session_status: Option<SessionStatus>,
}

/// Where a booking stands, in the customer's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerState {
    AwaitingPayment,
    /// The payment did not match the order; the platform is looking into it.
    PaymentHeld,
    WaitingForMechanic,
    /// A workshop-only request nobody took in time: widen it or cancel for a refund.
    NoMechanicFound,
    MechanicAssigned,
    InSession,
    Completed,
    Cancelled,
    Refunded,
}

impl CustomerState {
    pub fn label(self) -> &'static str {
        match self {
            CustomerState::AwaitingPayment => "Awaiting payment",
            CustomerState::PaymentHeld => "Payment under review",
            CustomerState::WaitingForMechanic => "Waiting for a mechanic",
            CustomerState::NoMechanicFound => "No mechanic available",
            CustomerState::MechanicAssigned => "Mechanic assigned",
            CustomerState::InSession => "In session",
            CustomerState::Completed => "Completed",
            CustomerState::Cancelled => "Cancelled",
            CustomerState::Refunded => "Refunded",
        }
    }
    pub fn badge(self) -> &'static str {
        match self {
            CustomerState::AwaitingPayment | CustomerState::NoMechanicFound | CustomerState::PaymentHeld => {
                "badge warning"
            }
            CustomerState::WaitingForMechanic
            | CustomerState::MechanicAssigned
            | CustomerState::InSession => "badge info",
            CustomerState::Completed => "badge success",
            CustomerState::Cancelled | CustomerState::Refunded => "badge",
        }
    }
}

impl CustomerOrder {
    pub fn state(&self) -> CustomerState {
        match (self.status, self.request_status, self.session_status) {
            (OrderStatus::Refunded, _, _) => CustomerState::Refunded,
            (OrderStatus::AwaitingPayment, _, _) => CustomerState::AwaitingPayment,
            (OrderStatus::Held, _, _) => CustomerState::PaymentHeld,
            (OrderStatus::Cancelled, _, _) => CustomerState::Cancelled,
            (_, _, Some(SessionStatus::Completed)) => CustomerState::Completed,
            (_, _, Some(SessionStatus::Active)) => CustomerState::InSession,
            (_, Some(RequestStatus::Accepted), _) => CustomerState::MechanicAssigned,
            (_, Some(RequestStatus::Expired), _) => CustomerState::NoMechanicFound,
            (_, Some(RequestStatus::Cancelled), _) => CustomerState::Cancelled,
            (_, Some(RequestStatus::Pending), _) | (_, None, _) => CustomerState::WaitingForMechanic,
        }
    }
}

/// The booking form as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingInput {
    pub plan_code: String,
    pub vehicle_make: String,
    pub vehicle_model: String,
    pub vehicle_year: i32,
    pub problem_description: String,
    pub workshop_id: Option<Uuid>,
    pub routing_type: RoutingType,
}

/// Validates the booking form field by field. The workshop's existence and
/// status and the plan's are checked against the database afterwards.
pub fn validate_booking(
    plan_code: &str,
    vehicle_make: &str,
    vehicle_model: &str,
    vehicle_year: &str,
    problem_description: &str,
    workshop_id: Option<&str>,
    routing_type: &str,
    this_year: i32,
) -> Result<BookingInput, crate::error::AppError> {
    use crate::validate::text_problem;
    let mut errors = FieldErrors::new();
    let plan_code = plan_code.trim().to_string();
    errors.check(!plan_code.is_empty(), "plan_code", "Choose a plan.");
    if let Some(p) = text_problem(vehicle_make, 1, 60, "the make") {
        errors.add("vehicle_make", p);
    }
    if let Some(p) = text_problem(vehicle_model, 1, 60, "the model") {
        errors.add("vehicle_model", p);
    }
    let year = match vehicle_year.trim().parse::<i32>() {
        Ok(y) if (1900..=this_year + 1).contains(&y) => y,
        _ => {
            errors.add("vehicle_year", format!("Enter the model year, 1900 to {}.", this_year + 1));
            0
        }
    };
    if let Some(p) = text_problem(problem_description, 10, 2000, "the description of the problem") {
        errors.add("problem_description", p);
    }
    let routing = match RoutingType::parse(routing_type) {
        Some(r) => r,
        None => {
            errors.add("routing_type", "Choose who should help: any available mechanic, or a workshop.");
            RoutingType::Broadcast
        }
    };
    let workshop_id = match workshop_id.map(str::trim).filter(|w| !w.is_empty()) {
        None => None,
        Some(raw) => match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("workshop_id", "That workshop does not exist. Pick one from the directory.");
                None
            }
        },
    };
    if routing.needs_workshop() && workshop_id.is_none() && errors.is_empty() {
        errors.add("workshop_id", "Choose a workshop from the directory, or choose any available mechanic.");
    }
    errors.into_result()?;
    Ok(BookingInput {
        plan_code,
        vehicle_make: vehicle_make.trim().to_string(),
        vehicle_model: vehicle_model.trim().to_string(),
        vehicle_year: year,
        problem_description: problem_description.trim().to_string(),
        // "Any available" serves whoever is free: a workshop picked earlier does not matter.
        workshop_id: if routing.needs_workshop() { workshop_id } else { None },
        routing_type: routing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(routing: &str, workshop: Option<&str>) -> Result<BookingInput, crate::error::AppError> {
        validate_booking(
            "video15",
            "Toyota",
            "Corolla",
            "2015",
            "Grinding noise when braking",
            workshop,
            routing,
            2026,
        )
    }

    #[test]
    fn bookings_need_a_workshop_only_for_workshop_routing() {
        let w = "0f0e0d0c-0b0a-0908-0706-050403020100";
        assert_eq!(ok("broadcast", None).unwrap().workshop_id, None);
        assert_eq!(ok("broadcast", Some(w)).unwrap().workshop_id, None, "any available ignores a workshop");
        assert!(ok("hybrid", Some(w)).unwrap().workshop_id.is_some());
        for r in ["workshop_only", "hybrid"] {
            let err = ok(r, None).unwrap_err();
            assert!(err.field_message("workshop_id").is_some(), "{r}");
        }
        assert!(ok("hybrid", Some("not-a-uuid")).unwrap_err().field_message("workshop_id").is_some());
        assert!(ok("preferred", None).unwrap_err().field_message("routing_type").is_some());
    }

    #[test]
    fn vehicle_and_problem_are_checked() {
        let err = validate_booking("", "", "x", "1800", "short", None, "broadcast", 2026).unwrap_err();
        for f in ["plan_code", "vehicle_make", "vehicle_year", "problem_description"] {
            assert!(err.field_message(f).is_some(), "{f}");
        }
        assert!(validate_booking("p", "a", "b", "2028", "long enough text", None, "broadcast", 2026).is_err());
        assert!(validate_booking("p", "a", "b", "2027", "long enough text", None, "broadcast", 2026).is_ok());
    }

    #[test]
    fn customer_states_follow_the_order_request_and_session() {
        let mut o = CustomerOrder {
            order_id: Uuid::nil(),
            plan_name: "p".into(),
            amount_cents: 100,
            amount_refunded_cents: 0,
            currency: "usd".into(),
            vehicle: "v".into(),
            routing_type: RoutingType::Broadcast,
            preferred_workshop_name: None,
            status: OrderStatus::AwaitingPayment,
            checkout_url: None,
            created_at: chrono::Utc::now(),
            request_status: None,
            mechanic_name: None,
            serving_workshop_name: None,
            session_id: None,
            session_status: None,
        };
        assert_eq!(o.state(), CustomerState::AwaitingPayment);
        o.status = OrderStatus::Paid;
        assert_eq!(o.state(), CustomerState::WaitingForMechanic);
        o.request_status = Some(RequestStatus::Pending);
        assert_eq!(o.state(), CustomerState::WaitingForMechanic);
        o.request_status = Some(RequestStatus::Expired);
        assert_eq!(o.state(), CustomerState::NoMechanicFound);
        o.request_status = Some(RequestStatus::Accepted);
        o.session_status = Some(SessionStatus::Active);
        assert_eq!(o.state(), CustomerState::InSession);
        o.session_status = Some(SessionStatus::Completed);
        assert_eq!(o.state(), CustomerState::Completed);
        o.status = OrderStatus::Refunded;
        assert_eq!(o.state(), CustomerState::Refunded);
    }
}
