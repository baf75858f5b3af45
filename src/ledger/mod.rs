//! The double-entry ledger: accounts, balanced journal entries written at most
//! once per cause, and the postings for payments, completed sessions, payouts
//! and refunds. Splits come from the pure `revenue` module.
//!
//! Sign convention: debits are positive, credits negative; every entry sums to
//! zero (a deferred constraint trigger checks it at commit).

#[cfg(feature = "ssr")]
pub use server_side::*;

#[cfg(feature = "ssr")]
mod server_side {
    use crate::dispatch::RoutingType;
    use crate::ids::{OrderId, SessionId, UserId, WorkshopId};
    use crate::revenue::{self, FeeTerms, Party, ServedBy, Split, SplitInput};
    use crate::status::LedgerAccountKind;
    use sqlx::{PgExecutor, Postgres, Transaction};
    use uuid::Uuid;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum AccountRef {
        GatewayCash,
        PaymentClearing,
        PlatformRevenue,
        Workshop(WorkshopId),
        Mechanic(UserId),
    }

    impl From<Party> for AccountRef {
        fn from(p: Party) -> Self {
            match p {
                Party::Platform => AccountRef::PlatformRevenue,
                Party::Workshop(w) => AccountRef::Workshop(w),
                Party::Mechanic(m) => AccountRef::Mechanic(m),
            }
        }
    }

    impl AccountRef {
        fn key(self) -> (LedgerAccountKind, Option<Uuid>, Option<Uuid>) {
            match self {
                AccountRef::GatewayCash => (LedgerAccountKind::GatewayCash, None, None),
                AccountRef::PaymentClearing => (LedgerAccountKind::PaymentClearing, None, None),
                AccountRef::PlatformRevenue => (LedgerAccountKind::PlatformRevenue, None, None),
                AccountRef::Workshop(w) => (LedgerAccountKind::WorkshopPayable, Some(w.uuid()), None),
                AccountRef::Mechanic(m) => (LedgerAccountKind::MechanicPayable, None, Some(m.uuid())),
            }
        }
    }

    /// The account's id, if it exists. One query per shape of key, each with
    /// conditions the unique index (kind, organization_id, mechanic_id) can use.
    async fn find_account(
        tx: &mut Transaction<'_, Postgres>,
        kind: LedgerAccountKind,
        org: Option<Uuid>,
        mechanic: Option<Uuid>,
    ) -> Result<Option<i64>, sqlx::Error> {
        match (org, mechanic) {
            (None, None) => {
                sqlx::query_scalar!(
                    "SELECT id FROM ledger_accounts WHERE kind = $1
                       AND organization_id IS NULL AND mechanic_id IS NULL",
                    kind as LedgerAccountKind
                )
                .fetch_optional(&mut **tx)
                .await
            }
            (Some(org), None) => {
                sqlx::query_scalar!(
                    "SELECT id FROM ledger_accounts WHERE kind = $1
                       AND organization_id = $2 AND mechanic_id IS NULL",
                    kind as LedgerAccountKind,
                    org
                )
                .fetch_optional(&mut **tx)
                .await
            }
            (None, Some(mechanic)) => {
                sqlx::query_scalar!(
                    "SELECT id FROM ledger_accounts WHERE kind = $1
                       AND organization_id IS NULL AND mechanic_id = $2",
                    kind as LedgerAccountKind,
                    mechanic
                )
                .fetch_optional(&mut **tx)
                .await
            }
            (Some(org), Some(mechanic)) => {
                sqlx::query_scalar!(
                    "SELECT id FROM ledger_accounts WHERE kind = $1
                       AND organization_id = $2 AND mechanic_id = $3",
                    kind as LedgerAccountKind,
                    org,
                    mechanic
                )
                .fetch_optional(&mut **tx)
                .await
            }
        }
    }

    /// The account's id, creating a payable the first time a payee earns.
    pub async fn account_id(
        tx: &mut Transaction<'_, Postgres>,
        account: AccountRef,
    ) -> Result<i64, sqlx::Error> {
        let (kind, org, mechanic) = account.key();
        // Looked up before any insert: an `INSERT ... ON CONFLICT` on an existing
        // account waits for whoever is updating its balance, which can deadlock.
        if let Some(id) = find_account(tx, kind, org, mechanic).await? {
            return Ok(id);
        }
        sqlx::query!(
            "INSERT INTO ledger_accounts (kind, organization_id, mechanic_id)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            kind as LedgerAccountKind,
            org,
            mechanic
        )
        .execute(&mut **tx)
        .await?;
        find_account(tx, kind, org, mechanic).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// What an account holds: for payables, what is owed to the payee.
    pub async fn balance(db: impl PgExecutor<'_>, account: AccountRef) -> Result<i64, sqlx::Error> {
        let (kind, org, mechanic) = account.key();
        let raw: Option<i64> = sqlx::query_scalar!(
            "SELECT balance_cents FROM ledger_accounts
              WHERE kind = $1 AND organization_id IS NOT DISTINCT FROM $2
                AND mechanic_id IS NOT DISTINCT FROM $3",
            kind as LedgerAccountKind,
            org,
            mechanic
        )
        .fetch_optional(db)
        .await?;
        Ok(match account {
            // Liabilities and income carry credit (negative) balances.
            AccountRef::GatewayCash => raw.unwrap_or(0),
            _ => -raw.unwrap_or(0),
        })
    }

    /// One line of an entry.
    #[derive(Clone, Debug)]
    pub struct Line {
        pub account: AccountRef,
        pub amount_cents: i64,
        pub share_kind: Option<&'static str>,
        pub session_id: Option<Uuid>,
    }

    impl Line {
        pub fn new(account: AccountRef, amount_cents: i64) -> Self {
            Line { account, amount_cents, share_kind: None, session_id: None }
        }
    }

    /// Writes a balanced entry once: `None` when an entry with this key exists
    /// (a retry or a second completion), and nothing is written then.
    pub async fn post(
        tx: &mut Transaction<'_, Postgres>,
        kind: &str,
        idempotency_key: &str,
        order_id: Option<OrderId>,
        session_id: Option<SessionId>,
        memo: &str,
        lines: &[Line],
    ) -> Result<Option<i64>, sqlx::Error> {
        let order_id = order_id.map(OrderId::uuid);
        let session_id = session_id.map(SessionId::uuid);
        let lines: Vec<&Line> = lines.iter().filter(|l| l.amount_cents != 0).collect();
        debug_assert_eq!(
            lines.iter().map(|l| l.amount_cents).sum::<i64>(),
            0,
            "unbalanced entry {idempotency_key}"
        );
        if lines.is_empty() {
            return Ok(None);
        }
        let entry: Option<i64> = sqlx::query_scalar!(
            "INSERT INTO journal_entries (kind, idempotency_key, order_id, session_id, memo)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            kind,
            idempotency_key,
            order_id,
            session_id,
            memo
        )
        .fetch_optional(&mut **tx)
        .await?;
        let Some(entry) = entry else { return Ok(None) };
        // Postings update their accounts' balances (a row lock each); taking the
        // locks in account-id order in every entry means two entries never wait
        // for each other in a circle.
        let mut resolved = Vec::with_capacity(lines.len());
        for line in lines {
            resolved.push((account_id(tx, line.account).await?, line));
        }
        resolved.sort_by_key(|(account, _)| *account);
        for (account, line) in resolved {
            sqlx::query!(
                "INSERT INTO postings (entry_id, account_id, amount_cents, share_kind, session_id) VALUES ($1, $2, $3, $4, $5)",
                entry,
                account,
                line.amount_cents,
                line.share_kind,
                line.session_id
            )
            .execute(&mut **tx)
            .await?;
        }
        Ok(Some(entry))
    }

    /// A customer's payment arrived: the money is at the gateway, held for the order.
    pub async fn post_payment(
        tx: &mut Transaction<'_, Postgres>,
        order: OrderId,
        amount_cents: i64,
    ) -> Result<(), sqlx::Error> {
        let order_id = order.uuid();
        post(
            tx,
            "payment",
            &format!("payment:{order_id}"),
            Some(OrderId(order_id)),
            None,
            "Customer payment",
            &[
                Line::new(AccountRef::GatewayCash, amount_cents),
                Line::new(AccountRef::PaymentClearing, -amount_cents),
            ],
        )
        .await?;
        Ok(())
    }

    fn share_kind_name(k: revenue::ShareKind) -> &'static str {
        match k {
            revenue::ShareKind::PlatformFee => "platform_fee",
            revenue::ShareKind::WorkshopService => "workshop_service",
            revenue::ShareKind::MechanicService => "mechanic_service",
            revenue::ShareKind::Referral => "referral",
        }
    }

    struct SessionMoney {
        order_id: Uuid,
        mechanic_id: UserId,
        workshop_id: Option<WorkshopId>,
        preferred_workshop_id: Option<WorkshopId>,
        routing_type: RoutingType,
        paid_cents: i64,
        platform_fee_bps: i32,
        referral_fee_bps: i32,
        serving_workshop_fee_bps: Option<i32>,
    }

    /// The split of a completed session, from the fee terms frozen at booking:
    /// the serving workshop's agreement as it stood when the order was made.
    pub async fn session_split(
        tx: &mut Transaction<'_, Postgres>,
        session_id: crate::ids::SessionId,
    ) -> Result<(Uuid, Split), sqlx::Error> {
        let session_id = session_id.uuid();
        let m = sqlx::query_as!(
            SessionMoney,
            r#"SELECT s.order_id, s.mechanic_id AS "mechanic_id: UserId", s.workshop_id AS "workshop_id: WorkshopId",
                    s.preferred_workshop_id AS "preferred_workshop_id: WorkshopId",
                    r.routing_type AS "routing_type: RoutingType",
                    coalesce(o.amount_paid_cents, 0) - o.amount_refunded_cents AS "paid_cents!",
                    o.platform_fee_bps, o.referral_fee_bps,
                    coalesce(
                        (SELECT t.platform_fee_bps FROM organization_fee_terms t
                          WHERE t.organization_id = s.workshop_id AND t.effective_from <= o.fee_terms_at
                          ORDER BY t.effective_from DESC LIMIT 1),
                        -- A workshop that joined after the booking: its first terms.
                        (SELECT t.platform_fee_bps FROM organization_fee_terms t
                          WHERE t.organization_id = s.workshop_id ORDER BY t.effective_from LIMIT 1)
                    ) AS serving_workshop_fee_bps
               FROM sessions s
               JOIN orders o ON o.id = s.order_id
               JOIN session_requests r ON r.id = s.request_id
              WHERE s.id = $1"#,
            session_id
        )
        .fetch_one(&mut **tx)
        .await?;
        let served_by = match m.workshop_id {
            Some(workshop) => ServedBy::Workshop { workshop, mechanic: m.mechanic_id },
            None => ServedBy::Independent { mechanic: m.mechanic_id },
        };
        let input = SplitInput {
            gross_cents: m.paid_cents.max(0),
            terms: FeeTerms {
                platform_fee_bps: m.platform_fee_bps,
                serving_workshop_fee_bps: m
                    .workshop_id
                    .map(|_| m.serving_workshop_fee_bps.unwrap_or(revenue::DEFAULT_WORKSHOP_FEE_BPS)),
                referral_fee_bps: m.referral_fee_bps,
            },
            served_by,
            preferred_workshop: m.preferred_workshop_id,
            routing: m.routing_type,
        };
        // The inputs come from database constraints (rates 0..=10000, amounts >= 0);
        // a failure here is a broken invariant, reported as an error.
        let split =
            revenue::split(&input).map_err(|e| sqlx::Error::Protocol(format!("revenue split: {e}")))?;
        Ok((m.order_id, split))
    }

    /// A session completed: its price moves from clearing to the platform and the
    /// payees, in shares. Once per session: a second call writes nothing.
    pub async fn post_session_revenue(
        tx: &mut Transaction<'_, Postgres>,
        session_id: crate::ids::SessionId,
    ) -> Result<Option<Split>, sqlx::Error> {
        let session_id = session_id.uuid();
        let (order_id, split) = session_split(tx, crate::ids::SessionId(session_id)).await?;
        let mut lines = vec![Line {
            account: AccountRef::PaymentClearing,
            amount_cents: split.gross_cents,
            share_kind: None,
            session_id: Some(session_id),
        }];
        for share in &split.shares {
            lines.push(Line {
                account: share.party.into(),
                amount_cents: -share.cents,
                share_kind: Some(share_kind_name(share.kind)),
                session_id: Some(session_id),
            });
        }
        let memo = format!("{:?} split", split.scenario);
        let posted = post(
            tx,
            "session_revenue",
            &format!("session:{session_id}"),
            Some(OrderId(order_id)),
            Some(SessionId(session_id)),
            &memo,
            &lines,
        )
        .await?;
        Ok(posted.map(|_| split))
    }

    /// Every entry balances and every cached balance equals its postings; the
    /// problems found, as sentences (empty when the ledger is consistent).
    pub async fn check_consistency(db: &sqlx::PgPool) -> Result<Vec<String>, sqlx::Error> {
        let mut problems = Vec::new();
        let unbalanced = sqlx::query!(
            r#"SELECT entry_id, sum(amount_cents)::bigint AS "sum!" FROM postings GROUP BY entry_id HAVING sum(amount_cents) <> 0"#,
        )
        .fetch_all(db)
        .await?;
        for row in unbalanced {
            let (entry, sum) = (row.entry_id, row.sum);
            problems.push(format!("journal entry {entry} does not balance (off by {sum} cents)"));
        }
        let drift = sqlx::query!(
            r#"SELECT a.id, a.balance_cents, coalesce(sum(p.amount_cents), 0)::bigint AS "actual!"
               FROM ledger_accounts a LEFT JOIN postings p ON p.account_id = a.id
              GROUP BY a.id HAVING a.balance_cents <> coalesce(sum(p.amount_cents), 0)"#,
        )
        .fetch_all(db)
        .await?;
        for row in drift {
            let (account, cached, actual) = (row.id, row.balance_cents, row.actual);
            problems
                .push(format!("ledger account {account} shows {cached} but its postings sum to {actual}"));
        }
        let total: i64 =
            sqlx::query_scalar!(r#"SELECT coalesce(sum(amount_cents), 0)::bigint AS "total!" FROM postings"#)
                .fetch_one(db)
                .await?;
        if total != 0 {
            problems.push(format!("the ledger as a whole is off by {total} cents"));
        }
        Ok(problems)
    }
}
