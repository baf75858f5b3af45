//! The model of the order lifecycle that `lifecycle_db_tests` runs the app
//! against: a few orders of one customer, three mechanics (one per workshop and
//! an independent one), and what should be true after each action, written from
//! the product rules (README, "How money moves"), not from the code: who is
//! offered what, who may act, every ledger balance and what each party is owed.
//!
//! Amounts are chosen so that every split and every proportional refund is
//! exact (the price is 2900 cents, refunds are multiples of 10 cents, the rates
//! are 20/80 and 20/10/70 %): the model never needs to round, so a cent the app
//! puts elsewhere is a difference, not a rounding question.

use autodoctor::status::{OrderStatus, RequestStatus};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

pub const PRICE: i64 = 2900;
/// Each mechanic takes one session at a time (the fixtures' capacity).
pub const CAPACITY: usize = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum W {
    A,
    B,
}

/// Mechanic A works for workshop A, B for workshop B, I is independent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mech {
    A,
    B,
    I,
}

pub const MECHS: [Mech; 3] = [Mech::A, Mech::B, Mech::I];

/// Who is paid out: the two workshops and the independent mechanic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Payee {
    WorkshopA,
    WorkshopB,
    Indie,
}

pub const PAYEES: [Payee; 3] = [Payee::WorkshopA, Payee::WorkshopB, Payee::Indie];

impl Payee {
    /// Workshop B never finished its payout set-up: its balance stays pending.
    pub fn payouts_enabled(self) -> bool {
        self != Payee::WorkshopB
    }
}

impl W {
    pub fn payee(self) -> Payee {
        match self {
            W::A => Payee::WorkshopA,
            W::B => Payee::WorkshopB,
        }
    }
}

impl Mech {
    pub fn workshop(self) -> Option<W> {
        match self {
            Mech::A => Some(W::A),
            Mech::B => Some(W::B),
            Mech::I => None,
        }
    }

    /// Whose payable a session served by this mechanic credits.
    pub fn payee(self) -> Payee {
        match self {
            Mech::A => Payee::WorkshopA,
            Mech::B => Payee::WorkshopB,
            Mech::I => Payee::Indie,
        }
    }
}

/// How a request is routed. `Hybrid` only arises from widening an expired
/// workshop-only request, which opens it to everyone at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Only(W),
    Hybrid(W),
    Broadcast,
}

impl Route {
    pub fn offers_to(self, m: Mech) -> bool {
        match self {
            Route::Only(w) => m.workshop() == Some(w),
            Route::Hybrid(_) | Route::Broadcast => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Party {
    Platform,
    Payee(Payee),
}

/// The shares of a completed session of `gross` cents (README, "How money
/// moves"): 20 % to the platform, the rest to whoever served, except that a
/// hybrid request served outside its workshop pays that workshop 10 % for the
/// referral and the server 70 %.
pub fn split(route: Route, served_by: Mech, gross: i64) -> Vec<(Party, i64)> {
    assert_eq!(gross % 10, 0, "the model only splits exact amounts");
    let server = Party::Payee(served_by.payee());
    match route {
        Route::Hybrid(w) if served_by.workshop() != Some(w) => vec![
            (Party::Platform, gross / 10 * 2),
            (Party::Payee(w.payee()), gross / 10),
            (server, gross / 10 * 7),
        ],
        _ => vec![(Party::Platform, gross / 10 * 2), (server, gross / 10 * 8)],
    }
}

#[derive(Clone, Debug)]
pub struct MRequest {
    pub id: Uuid,
    pub status: RequestStatus,
    pub route: Route,
}

#[derive(Clone, Debug)]
pub struct MSession {
    pub id: Uuid,
    pub mech: Mech,
    pub completed: bool,
    pub rated: bool,
    /// What each party still holds of the session's split (after refunds).
    pub held: Vec<(Party, i64)>,
    /// The payees whose share of this session a payout has already paid, and
    /// by which transfer (an index into `Books::transfers`): a refund takes the
    /// share back from that transfer.
    pub paid_out: BTreeMap<Payee, usize>,
}

#[derive(Clone, Debug)]
pub struct MOrder {
    pub id: Uuid,
    /// The sandbox checkout session.
    pub checkout: String,
    pub booked: Route,
    pub status: OrderStatus,
    /// `orders.amount_paid_cents`: what the accepted (or held) event said.
    pub paid: Option<i64>,
    pub refunded: i64,
    /// The last event delivered for the order (to replay).
    pub event: Option<String>,
    pub request: Option<MRequest>,
    pub session: Option<MSession>,
}

impl MOrder {
    pub fn refundable(&self) -> i64 {
        self.paid.unwrap_or(0) - self.refunded
    }
}

/// Ledger balances as `ledger::balance` reports them: gateway cash as a debit,
/// the rest as credits (what is owed to the payee, what the platform earned).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Books {
    pub cash: i64,
    pub clearing: i64,
    pub platform: i64,
    pub owed: BTreeMap<Payee, i64>,
    /// Paid out by transfers, and taken back by transfer reversals.
    pub transferred: BTreeMap<Payee, i64>,
    pub reversed: BTreeMap<Payee, i64>,
    /// Paid-out shares a refund took back that the gateway refused to reverse:
    /// carried as a negative balance (in `owed`) against the next payout.
    pub carried: BTreeMap<Payee, i64>,
    /// Every transfer made, in order.
    pub transfers: Vec<Transfer>,
}

/// One payout's transfer at the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub payee: Payee,
    pub amount: i64,
    /// What the gateway counts as reversed of it: a reversal of more than what
    /// is left is refused (the sandbox does so, as Stripe does).
    pub reversed_at_gateway: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub orders: Vec<MOrder>,
    pub books: Books,
}

impl Model {
    pub fn open_sessions(&self, m: Mech) -> usize {
        self.orders.iter().filter_map(|o| o.session.as_ref()).filter(|s| s.mech == m && !s.completed).count()
    }

    /// The requests offered to mechanic `m` now.
    pub fn offered(&self, m: Mech) -> BTreeSet<Uuid> {
        if self.open_sessions(m) >= CAPACITY {
            return BTreeSet::new();
        }
        self.orders
            .iter()
            .filter_map(|o| o.request.as_ref())
            .filter(|r| r.status == RequestStatus::Pending && r.route.offers_to(m))
            .map(|r| r.id)
            .collect()
    }

    /// The answer an accept of the order's request by `m` must get.
    pub fn accept_status(&self, order: usize, m: Mech) -> u16 {
        let Some(r) = &self.orders[order].request else { return 404 };
        match r.status {
            RequestStatus::Pending => {}
            _ => return 409,
        }
        if self.open_sessions(m) >= CAPACITY || !r.route.offers_to(m) {
            return 403;
        }
        200
    }

    pub fn accepted(&mut self, order: usize, m: Mech, session: Uuid) {
        let o = &mut self.orders[order];
        o.request.as_mut().unwrap().status = RequestStatus::Accepted;
        o.session = Some(MSession {
            id: session,
            mech: m,
            completed: false,
            rated: false,
            held: Vec::new(),
            paid_out: BTreeMap::new(),
        });
    }

    pub fn end_status(&self, order: usize, m: Mech) -> u16 {
        match &self.orders[order].session {
            None => 404,
            Some(s) if s.mech != m => 404,
            Some(s) if s.completed => 409,
            Some(_) => 200,
        }
    }

    /// The session ended: what is left of the payment is split.
    pub fn ended(&mut self, order: usize) {
        let o = &mut self.orders[order];
        let gross = o.refundable();
        let route = o.request.as_ref().unwrap().route;
        let s = o.session.as_mut().unwrap();
        s.completed = true;
        s.held = split(route, s.mech, gross);
        self.books.clearing -= gross;
        for (party, cents) in &s.held {
            match party {
                Party::Platform => self.books.platform += cents,
                Party::Payee(p) => *self.books.owed.entry(*p).or_default() += cents,
            }
        }
    }

    pub fn rate_status(&self, order: usize, stranger: bool) -> u16 {
        match &self.orders[order].session {
            None => 404,
            Some(_) if stranger => 404,
            Some(s) if !s.completed || s.rated => 409,
            Some(_) => 200,
        }
    }

    pub fn paid(&mut self, order: usize, request: Uuid, event: String) {
        let o = &mut self.orders[order];
        o.status = OrderStatus::Paid;
        o.paid = Some(PRICE);
        o.event = Some(event);
        o.request = Some(MRequest { id: request, status: RequestStatus::Pending, route: o.booked });
        self.books.cash += PRICE;
        self.books.clearing += PRICE;
    }

    /// The worker's expiry (ten minutes on): workshop-only requests nobody took.
    pub fn expire(&mut self) {
        for r in self.orders.iter_mut().filter_map(|o| o.request.as_mut()) {
            if r.status == RequestStatus::Pending && matches!(r.route, Route::Only(_)) {
                r.status = RequestStatus::Expired;
            }
        }
    }

    /// Widening: only an expired request, only by its customer.
    pub fn widen(&mut self, order: usize, hybrid: bool, stranger: bool) -> u16 {
        let Some(r) = self.orders[order].request.as_mut() else { return 404 };
        if stranger {
            return 404;
        }
        if r.status != RequestStatus::Expired {
            return 409;
        }
        let Route::Only(w) = r.route else { unreachable!("only workshop-only requests expire") };
        r.status = RequestStatus::Pending;
        r.route = if hybrid { Route::Hybrid(w) } else { Route::Broadcast };
        200
    }

    /// The customer cancels an unserved request: it is withdrawn and what is
    /// left of the payment comes back.
    pub fn cancel(&mut self, order: usize, stranger: bool) -> u16 {
        let o = &mut self.orders[order];
        let Some(r) = o.request.as_mut() else { return 404 };
        if stranger {
            return 404;
        }
        match r.status {
            RequestStatus::Accepted => return 409,
            RequestStatus::Cancelled => return 200,
            RequestStatus::Pending | RequestStatus::Expired => r.status = RequestStatus::Cancelled,
        }
        let rest = o.refundable();
        if rest > 0 {
            self.refund_money(order, rest);
        }
        200
    }

    /// The admin refunds `cents` of an order.
    pub fn refund(&mut self, order: usize, cents: i64) -> u16 {
        let o = &mut self.orders[order];
        if !matches!(o.status, OrderStatus::Paid | OrderStatus::PartiallyRefunded) {
            return 404;
        }
        if cents > o.refundable() {
            return 400;
        }
        if cents == o.refundable() {
            // In full: an unserved request is withdrawn; a session under way refuses it.
            match &o.session {
                Some(s) if !s.completed => return 409,
                Some(_) => {}
                None => {
                    let r = o.request.as_mut().unwrap();
                    if matches!(r.status, RequestStatus::Pending | RequestStatus::Expired) {
                        r.status = RequestStatus::Cancelled;
                    }
                }
            }
        }
        self.refund_money(order, cents);
        200
    }

    /// Money back to the customer: out of clearing before the split, out of every
    /// share in proportion after it; a share already paid out is taken back from
    /// the payee's transfer.
    fn refund_money(&mut self, order: usize, cents: i64) {
        assert_eq!(cents % 10, 0, "the model only refunds exact amounts");
        let books = &mut self.books;
        let o = &mut self.orders[order];
        books.cash -= cents;
        match o.session.as_mut().filter(|s| s.completed) {
            None => books.clearing -= cents,
            Some(s) => {
                let total: i64 = s.held.iter().map(|(_, c)| c).sum();
                for (party, held) in s.held.iter_mut() {
                    let taken = *held * cents / total;
                    assert_eq!(*held * cents % total, 0, "an exact proportional refund");
                    *held -= taken;
                    match party {
                        Party::Platform => books.platform -= taken,
                        Party::Payee(p) if taken > 0 && s.paid_out.contains_key(p) => {
                            // Already paid out: taken back from the payee's transfer
                            // (a transfer reversal); when the gateway refuses (more
                            // than is left of the transfer), carried as a negative
                            // balance that the payee's next payout nets out.
                            let t = &mut books.transfers[s.paid_out[p]];
                            if t.amount - t.reversed_at_gateway >= taken {
                                t.reversed_at_gateway += taken;
                                books.cash += taken;
                                *books.reversed.entry(*p).or_default() += taken;
                            } else {
                                *books.owed.entry(*p).or_default() -= taken;
                                *books.carried.entry(*p).or_default() += taken;
                            }
                        }
                        Party::Payee(p) => *books.owed.entry(*p).or_default() -= taken,
                    }
                }
            }
        }
        o.refunded += cents;
        o.status = if o.refunded >= o.paid.unwrap_or(0) {
            OrderStatus::Refunded
        } else {
            OrderStatus::PartiallyRefunded
        };
    }

    /// The gateway refuses every reversal of the transfers made so far (as if
    /// each had been reversed in full already): refunds of shares they paid are
    /// carried from now on. Later transfers can be reversed again.
    pub fn refuse_reversals(&mut self) {
        for t in &mut self.books.transfers {
            t.reversed_at_gateway = t.amount;
        }
    }

    /// A payout run: every payee with payouts enabled is paid what it is owed.
    /// Returns the payees paid.
    pub fn payout_run(&mut self) -> Vec<Payee> {
        let mut paid = Vec::new();
        for p in PAYEES {
            let owed = self.books.owed.get(&p).copied().unwrap_or(0);
            if p.payouts_enabled() && owed > 0 {
                self.books.owed.insert(p, 0);
                self.books.cash -= owed;
                *self.books.transferred.entry(p).or_default() += owed;
                let transfer = self.books.transfers.len();
                self.books.transfers.push(Transfer { payee: p, amount: owed, reversed_at_gateway: 0 });
                // The payout covers every share of the payee's not covered by an
                // earlier one (those of fully refunded sessions too).
                for s in self.orders.iter_mut().filter_map(|o| o.session.as_mut()) {
                    if s.completed && s.held.iter().any(|(party, _)| *party == Party::Payee(p)) {
                        s.paid_out.entry(p).or_insert(transfer);
                    }
                }
                paid.push(p);
            }
        }
        paid
    }
}
