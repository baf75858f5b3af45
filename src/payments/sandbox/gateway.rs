//! The sandbox's implementation of the payment gateway: checkout sessions,
//! connected accounts, transfers and their reversals, and refunds, kept in
//! PostgreSQL with Stripe's idempotency-key behaviour.

use super::*;

use super::super::signing::random_id;

#[async_trait::async_trait]
impl PaymentGateway for SandboxGateway {
    fn mode(&self) -> GatewayMode {
        GatewayMode::Sandbox
    }

    async fn create_checkout_session(&self, req: &CheckoutRequest) -> Result<CheckoutSession, GatewayError> {
        if req.amount_cents <= 0 {
            return Err(GatewayError::InvalidRequest("amount must be positive".into()));
        }
        let id: String = sqlx::query_scalar!(
            "INSERT INTO sandbox_checkout_sessions (id, idempotency_key, order_id, amount_cents, currency, product_name,
                                                    customer_email, metadata, success_url, cancel_url, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + interval '24 hours')
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING id",
            random_id("cs_test_"),
            &req.idempotency_key,
            req.order_id,
            req.amount_cents,
            &req.currency,
            &req.product_name,
            &req.customer_email,
            metadata_json(&req.metadata()),
            &req.success_url,
            &req.cancel_url
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(CheckoutSession { url: self.checkout_url(&id), id })
    }

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSessionInfo, GatewayError> {
        let s = checkout_session(&self.pool, id)
            .await
            .map_err(db_err)?
            .ok_or_else(|| GatewayError::NotFound(format!("no checkout session {id}")))?;
        Ok(CheckoutSessionInfo {
            status: match s.status.as_str() {
                "complete" => CheckoutStatus::Complete,
                "expired" => CheckoutStatus::Expired,
                _ => CheckoutStatus::Open,
            },
            paid: s.status == "complete",
            amount_total_cents: Some(s.amount_cents),
            currency: Some(s.currency.clone()),
            payment_intent: s.payment_intent.clone(),
            metadata: metadata_map(&s.metadata),
            id: s.id,
        })
    }

    async fn create_connected_account(
        &self,
        req: &ConnectAccountRequest,
    ) -> Result<ConnectedAccount, GatewayError> {
        let kind = match req.kind {
            PayeeKind::Workshop => "company",
            PayeeKind::Individual => "individual",
        };
        let row = sqlx::query_as!(
            AccountRow,
            "INSERT INTO sandbox_accounts (id, idempotency_key, email, display_name, kind, metadata)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING id, details_submitted, charges_enabled, payouts_enabled",
            random_id("acct_sbx_"),
            &req.idempotency_key,
            &req.email,
            &req.display_name,
            kind,
            metadata_json(&req.metadata)
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.into())
    }

    async fn retrieve_account(&self, id: &str) -> Result<ConnectedAccount, GatewayError> {
        sqlx::query_as!(
            AccountRow,
            "SELECT id, details_submitted, charges_enabled, payouts_enabled FROM sandbox_accounts WHERE id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(Into::into)
        .ok_or_else(|| GatewayError::NotFound(format!("no account {id}")))
    }

    async fn create_account_link(&self, req: &AccountLinkRequest) -> Result<String, GatewayError> {
        self.retrieve_account(&req.account_id).await?;
        Ok(self.onboarding_url(&req.account_id, &req.return_url, &req.refresh_url))
    }

    async fn create_transfer(&self, req: &TransferRequest) -> Result<TransferInfo, GatewayError> {
        if req.amount_cents <= 0 {
            return Err(GatewayError::InvalidRequest("amount must be positive".into()));
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if let Some(existing) = sqlx::query_as!(
            TransferRow,
            r#"SELECT id, amount_cents, amount_reversed_cents, currency, destination, transfer_group, metadata,
                    created_at AS "created_at: chrono::DateTime<chrono::Utc>"
               FROM sandbox_transfers WHERE idempotency_key = $1"#,
            &req.idempotency_key
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        {
            return Ok(existing.into());
        }
        let payouts: Option<bool> = sqlx::query_scalar!(
            "SELECT payouts_enabled FROM sandbox_accounts WHERE id = $1",
            &req.destination
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        match payouts {
            None => {
                return Err(GatewayError::InvalidRequest(format!(
                    "No such destination: '{}'",
                    req.destination
                )))
            }
            Some(false) => {
                return Err(GatewayError::InvalidRequest(
                    "The destination account has not completed onboarding: payouts are not enabled".into(),
                ))
            }
            Some(true) => {}
        }
        let row = sqlx::query_as!(
            TransferRow,
            r#"INSERT INTO sandbox_transfers (id, idempotency_key, amount_cents, currency, destination, transfer_group,
                                            description, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING id, amount_cents, amount_reversed_cents, currency, destination, transfer_group, metadata,
                    created_at AS "created_at: chrono::DateTime<chrono::Utc>""#,
            random_id("tr_sbx_"),
            &req.idempotency_key,
            req.amount_cents,
            &req.currency,
            &req.destination,
            req.transfer_group.as_deref(),
            &req.description,
            metadata_json(&req.metadata)
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.into())
    }

    async fn retrieve_transfer(&self, id: &str) -> Result<TransferInfo, GatewayError> {
        sqlx::query_as!(
            TransferRow,
            r#"SELECT id, amount_cents, amount_reversed_cents, currency, destination, transfer_group, metadata,
                    created_at AS "created_at: chrono::DateTime<chrono::Utc>"
               FROM sandbox_transfers WHERE id = $1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(Into::into)
        .ok_or_else(|| GatewayError::NotFound(format!("no transfer {id}")))
    }

    async fn list_transfers(&self, created_gte: i64) -> Result<Vec<TransferInfo>, GatewayError> {
        let since = created_gte as f64;
        Ok(sqlx::query_as!(
            TransferRow,
            r#"SELECT id, amount_cents, amount_reversed_cents, currency, destination, transfer_group, metadata,
                    created_at AS "created_at: chrono::DateTime<chrono::Utc>"
               FROM sandbox_transfers WHERE created_at >= to_timestamp($1) ORDER BY created_at, id"#,
            since
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn create_transfer_reversal(&self, req: &ReversalRequest) -> Result<ReversalInfo, GatewayError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if let Some(r) = sqlx::query!(
            "SELECT id, transfer_id, amount_cents FROM sandbox_transfer_reversals WHERE idempotency_key = $1",
            &req.idempotency_key
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        {
            return Ok(ReversalInfo { id: r.id, transfer_id: r.transfer_id, amount_cents: r.amount_cents });
        }
        let updated = sqlx::query!(
            "UPDATE sandbox_transfers SET amount_reversed_cents = amount_reversed_cents + $2
              WHERE id = $1 AND amount_reversed_cents + $2 <= amount_cents AND $2 > 0",
            &req.transfer_id,
            req.amount_cents
        )
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if updated.rows_affected() != 1 {
            return Err(GatewayError::InvalidRequest(format!(
                "Cannot reverse {} on transfer {}: more than what remains, or no such transfer",
                req.amount_cents, req.transfer_id
            )));
        }
        let id = random_id("trr_sbx_");
        sqlx::query!(
            "INSERT INTO sandbox_transfer_reversals (id, idempotency_key, transfer_id, amount_cents, metadata)
             VALUES ($1, $2, $3, $4, $5)",
            &id,
            &req.idempotency_key,
            &req.transfer_id,
            req.amount_cents,
            metadata_json(&req.metadata)
        )
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(ReversalInfo { id, transfer_id: req.transfer_id.clone(), amount_cents: req.amount_cents })
    }

    async fn create_refund(&self, req: &RefundRequest) -> Result<RefundInfo, GatewayError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if let Some(existing) = sqlx::query_as!(
            RefundRow,
            r#"SELECT id, amount_cents, currency, payment_intent, status, metadata, created_at AS "created_at: chrono::DateTime<chrono::Utc>"
               FROM sandbox_refunds WHERE idempotency_key = $1"#,
            &req.idempotency_key
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        {
            return Ok(existing.into());
        }
        // Lock the payment so two refunds cannot together exceed it.
        let paid: Option<(i64, String)> = sqlx::query!(
            "SELECT amount_cents, currency FROM sandbox_checkout_sessions
              WHERE payment_intent = $1 AND status = 'complete' FOR UPDATE",
            &req.payment_intent
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .map(|r| (r.amount_cents, r.currency));
        let Some((paid, currency)) = paid else {
            return Err(GatewayError::InvalidRequest(format!(
                "No such payment_intent: '{}'",
                req.payment_intent
            )));
        };
        let refunded: i64 = sqlx::query_scalar!(
            r#"SELECT coalesce(sum(amount_cents), 0)::bigint AS "refunded!" FROM sandbox_refunds WHERE payment_intent = $1"#,
            &req.payment_intent
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if req.amount_cents <= 0 || refunded + req.amount_cents > paid {
            return Err(GatewayError::InvalidRequest(format!(
                "Refund amount ({}) is greater than the unrefunded amount ({})",
                req.amount_cents,
                paid - refunded
            )));
        }
        let row = sqlx::query_as!(
            RefundRow,
            r#"INSERT INTO sandbox_refunds (id, idempotency_key, payment_intent, amount_cents, currency, status, metadata)
             VALUES ($1, $2, $3, $4, $5, 'succeeded', $6)
             RETURNING id, amount_cents, currency, payment_intent, status, metadata, created_at AS "created_at: chrono::DateTime<chrono::Utc>""#,
            random_id("re_sbx_"),
            &req.idempotency_key,
            &req.payment_intent,
            req.amount_cents,
            currency,
            metadata_json(&req.metadata)
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.into())
    }

    async fn list_refunds(&self, created_gte: i64) -> Result<Vec<RefundInfo>, GatewayError> {
        let since = created_gte as f64;
        Ok(sqlx::query_as!(
            RefundRow,
            r#"SELECT id, amount_cents, currency, payment_intent, status, metadata, created_at AS "created_at: chrono::DateTime<chrono::Utc>"
               FROM sandbox_refunds WHERE created_at >= to_timestamp($1) ORDER BY created_at, id"#,
            since
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Into::into)
        .collect())
    }
}
