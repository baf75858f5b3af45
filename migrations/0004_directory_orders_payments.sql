-- Directory statistics, orders, session requests, Stripe events and the payment sandbox.

-- ---------------------------------------------------------------- directory statistics
-- Kept up to date by the transactions that change what they count, so that the
-- directory never scans history: mechanics counters by the trigger below,
-- sessions, ratings and acceptances by the code that completes, rates and accepts.
CREATE TABLE workshop_stats (
    workshop_id            uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    mechanics_total        integer NOT NULL DEFAULT 0 CHECK (mechanics_total >= 0),
    mechanics_online       integer NOT NULL DEFAULT 0 CHECK (mechanics_online >= 0),
    sessions_completed     bigint NOT NULL DEFAULT 0 CHECK (sessions_completed >= 0),
    rating_sum             bigint NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    rating_count           bigint NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    rating_avg             numeric(3, 2) GENERATED ALWAYS AS (
                               CASE WHEN rating_count > 0 THEN round(rating_sum::numeric / rating_count, 2) END
                           ) STORED,
    requests_preferred     bigint NOT NULL DEFAULT 0 CHECK (requests_preferred >= 0),
    requests_served        bigint NOT NULL DEFAULT 0 CHECK (requests_served >= 0),
    median_accept_secs_30d integer,
    updated_at             timestamptz NOT NULL DEFAULT now()
);
-- The directory's order: online now, then rating.
CREATE INDEX workshop_stats_directory_idx
    ON workshop_stats (mechanics_online DESC, rating_avg DESC NULLS LAST, sessions_completed DESC);

INSERT INTO workshop_stats (workshop_id) SELECT id FROM organizations;

CREATE FUNCTION workshop_stats_for_new_organization() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO workshop_stats (workshop_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER organizations_stats_row AFTER INSERT ON organizations
    FOR EACH ROW EXECUTE FUNCTION workshop_stats_for_new_organization();

-- Recounts one workshop's approved and online mechanics (bounded by its own mechanics).
CREATE FUNCTION refresh_workshop_mechanic_counts(p_workshop uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE workshop_stats s SET
        mechanics_total  = c.total,
        mechanics_online = c.online,
        updated_at = now()
      FROM (SELECT count(*) FILTER (WHERE application_status = 'approved') AS total,
                   count(*) FILTER (WHERE application_status = 'approved' AND is_online) AS online
              FROM mechanics WHERE workshop_id = p_workshop) c
     WHERE s.workshop_id = p_workshop;
$$;

CREATE FUNCTION mechanics_maintain_workshop_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.workshop_id IS NOT NULL THEN
        PERFORM refresh_workshop_mechanic_counts(OLD.workshop_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.workshop_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.workshop_id IS DISTINCT FROM OLD.workshop_id
            OR NEW.is_online IS DISTINCT FROM OLD.is_online
            OR NEW.application_status IS DISTINCT FROM OLD.application_status) THEN
        PERFORM refresh_workshop_mechanic_counts(NEW.workshop_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER mechanics_workshop_stats
    AFTER INSERT OR DELETE OR UPDATE OF workshop_id, is_online, application_status ON mechanics
    FOR EACH ROW EXECUTE FUNCTION mechanics_maintain_workshop_stats();

SELECT refresh_workshop_mechanic_counts(id) FROM organizations;

-- Time from request to acceptance, per workshop and day, in buckets: the median
-- over 30 days reads at most 30 days x ~165 buckets, however long the history.
CREATE TABLE workshop_accept_histogram (
    workshop_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day         date NOT NULL,
    bucket_secs integer NOT NULL CHECK (bucket_secs >= 0),
    count       integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (workshop_id, day, bucket_secs)
);

-- ---------------------------------------------------------------- orders
CREATE TYPE routing_type AS ENUM ('broadcast', 'workshop_only', 'hybrid');
CREATE TYPE order_status AS ENUM ('awaiting_payment', 'paid', 'cancelled', 'refunded', 'partially_refunded');

CREATE TABLE orders (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id                uuid NOT NULL REFERENCES users (id),
    -- A key from the booking form: submitting the same form twice makes one order.
    request_key                uuid NOT NULL,
    plan_code                  text NOT NULL REFERENCES plans (code),
    plan_name                  text NOT NULL,
    plan_minutes               integer NOT NULL,
    -- The price from the catalog at booking, never from the browser.
    amount_cents               bigint NOT NULL CHECK (amount_cents > 0),
    currency                   text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    vehicle_make               text NOT NULL CHECK (length(vehicle_make) BETWEEN 1 AND 60),
    vehicle_model              text NOT NULL CHECK (length(vehicle_model) BETWEEN 1 AND 60),
    vehicle_year               integer NOT NULL CHECK (vehicle_year BETWEEN 1900 AND 2100),
    problem_description        text NOT NULL CHECK (length(problem_description) BETWEEN 10 AND 2000),
    preferred_workshop_id      uuid REFERENCES organizations (id),
    routing_type               routing_type NOT NULL DEFAULT 'broadcast',
    -- Fee terms frozen at booking: the platform's rate for independents and
    -- referrals, the referral rate, the preferred workshop's agreement, and the
    -- instant whose workshop agreements apply (organization_fee_terms).
    platform_fee_bps           integer NOT NULL CHECK (platform_fee_bps BETWEEN 0 AND 10000),
    referral_fee_bps           integer NOT NULL CHECK (referral_fee_bps BETWEEN 0 AND 10000),
    preferred_workshop_fee_bps integer CHECK (preferred_workshop_fee_bps BETWEEN 0 AND 10000),
    fee_terms_at               timestamptz NOT NULL DEFAULT now(),
    status                     order_status NOT NULL DEFAULT 'awaiting_payment',
    amount_paid_cents          bigint CHECK (amount_paid_cents >= 0),
    amount_refunded_cents      bigint NOT NULL DEFAULT 0 CHECK (amount_refunded_cents >= 0),
    checkout_session_id        text UNIQUE,
    checkout_url               text,
    payment_intent_id          text,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    paid_at                    timestamptz,
    cancelled_at               timestamptz,
    UNIQUE (customer_id, request_key),
    CHECK (routing_type = 'broadcast' OR preferred_workshop_id IS NOT NULL)
);
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at DESC);

-- Every Stripe event handled, recorded in the same transaction as its effect:
-- a replay finds its id here and changes nothing.
CREATE TABLE stripe_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    created     timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    outcome     text NOT NULL
);

-- ---------------------------------------------------------------- session requests
CREATE TYPE request_status AS ENUM ('pending', 'accepted', 'expired', 'cancelled');

CREATE TABLE session_requests (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- One request per paid order, whatever the number of webhook deliveries.
    order_id              uuid NOT NULL UNIQUE REFERENCES orders (id),
    customer_id           uuid NOT NULL REFERENCES users (id),
    plan_code             text NOT NULL REFERENCES plans (code),
    preferred_workshop_id uuid REFERENCES organizations (id),
    routing_type          routing_type NOT NULL DEFAULT 'broadcast',
    status                request_status NOT NULL DEFAULT 'pending',
    -- Who took it, and the workshop that served it (none for independents).
    mechanic_id           uuid REFERENCES users (id),
    workshop_id           uuid REFERENCES organizations (id),
    created_at            timestamptz NOT NULL DEFAULT now(),
    escalated_at          timestamptz,
    expires_at            timestamptz,
    accepted_at           timestamptz,
    closed_at             timestamptz,
    CHECK ((status = 'accepted') = (mechanic_id IS NOT NULL)),
    CHECK (routing_type = 'broadcast' OR preferred_workshop_id IS NOT NULL)
);
CREATE INDEX session_requests_pending_idx ON session_requests (created_at) WHERE status = 'pending';
CREATE INDEX session_requests_customer_idx ON session_requests (customer_id, created_at DESC);
CREATE INDEX session_requests_workshop_idx ON session_requests (workshop_id);
CREATE INDEX session_requests_preferred_workshop_idx ON session_requests (preferred_workshop_id);

-- ---------------------------------------------------------------- payment sandbox
-- Used only without STRIPE_SECRET_KEY: the built-in stand-in for Stripe keeps its
-- objects here, so it survives restarts and several app instances agree.
CREATE TABLE sandbox_checkout_sessions (
    id              text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    order_id        uuid NOT NULL,
    amount_cents    bigint NOT NULL,
    currency        text NOT NULL,
    product_name    text NOT NULL,
    customer_email  text NOT NULL,
    metadata        jsonb NOT NULL,
    success_url     text NOT NULL,
    cancel_url      text NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete', 'expired')),
    payment_intent  text UNIQUE,
    declined_count  integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    completed_at    timestamptz
);

CREATE TABLE sandbox_accounts (
    id                text PRIMARY KEY,
    idempotency_key   text NOT NULL UNIQUE,
    email             text NOT NULL,
    display_name      text NOT NULL,
    kind              text NOT NULL,
    metadata          jsonb NOT NULL,
    details_submitted boolean NOT NULL DEFAULT false,
    charges_enabled   boolean NOT NULL DEFAULT false,
    payouts_enabled   boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sandbox_transfers (
    id                    text PRIMARY KEY,
    idempotency_key       text NOT NULL UNIQUE,
    amount_cents          bigint NOT NULL CHECK (amount_cents > 0),
    amount_reversed_cents bigint NOT NULL DEFAULT 0,
    currency              text NOT NULL,
    destination           text NOT NULL REFERENCES sandbox_accounts (id),
    transfer_group        text,
    description           text NOT NULL,
    metadata              jsonb NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (amount_reversed_cents BETWEEN 0 AND amount_cents)
);

CREATE TABLE sandbox_transfer_reversals (
    id              text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    transfer_id     text NOT NULL REFERENCES sandbox_transfers (id),
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    metadata        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sandbox_refunds (
    id              text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    payment_intent  text NOT NULL,
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    currency        text NOT NULL,
    status          text NOT NULL,
    metadata        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Signed events on their way to the app's own webhook endpoint.
CREATE TABLE sandbox_webhook_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    event_type      text NOT NULL,
    payload         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    delivered_at    timestamptz,
    last_error      text
);
CREATE INDEX sandbox_webhook_due_idx ON sandbox_webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
