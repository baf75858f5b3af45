-- Routing audit, sessions, chat, and the statistics that accepting, completing
-- and rating keep up to date.

-- Every routing decision about a request, in order, for the admin to read.
CREATE TABLE routing_events (
    id          bigserial PRIMARY KEY,
    request_id  uuid NOT NULL REFERENCES session_requests (id),
    kind        text NOT NULL CHECK (kind IN ('created', 'offered', 'escalated', 'accepted', 'expired', 'widened', 'cancelled')),
    mechanic_id uuid REFERENCES users (id),
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX routing_events_request_idx ON routing_events (request_id, id);

CREATE TYPE session_status AS ENUM ('accepted', 'active', 'completed', 'cancelled');

CREATE TABLE sessions (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Created by the one accept that wins: one session per request and per order.
    request_id            uuid NOT NULL UNIQUE REFERENCES session_requests (id),
    order_id              uuid NOT NULL UNIQUE REFERENCES orders (id),
    customer_id           uuid NOT NULL REFERENCES users (id),
    mechanic_id           uuid NOT NULL REFERENCES users (id),
    -- The workshop that served it (none for an independent mechanic), and the customer's choice.
    workshop_id           uuid REFERENCES organizations (id),
    preferred_workshop_id uuid REFERENCES organizations (id),
    routing_type          routing_type NOT NULL,
    plan_code             text NOT NULL REFERENCES plans (code),
    status                session_status NOT NULL DEFAULT 'accepted',
    created_at            timestamptz NOT NULL DEFAULT now(),
    started_at            timestamptz,
    ended_at              timestamptz,
    rating                smallint CHECK (rating BETWEEN 1 AND 5),
    rating_comment        text CHECK (length(rating_comment) <= 1000),
    rated_at              timestamptz,
    CHECK ((rating IS NULL) = (rated_at IS NULL)),
    CHECK (rating IS NULL OR status = 'completed')
);
CREATE INDEX sessions_mechanic_idx ON sessions (mechanic_id, created_at DESC);
CREATE INDEX sessions_customer_idx ON sessions (customer_id, created_at DESC);
CREATE INDEX sessions_workshop_idx ON sessions (workshop_id, created_at DESC);

CREATE TABLE chat_messages (
    id         bigserial PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id),
    sender_id  uuid NOT NULL REFERENCES users (id),
    body       text NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 2000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_session_idx ON chat_messages (session_id, id);

-- Requests that preferred a workshop and were served by it (for its acceptance rate).
ALTER TABLE workshop_stats ADD COLUMN preferred_served_by_self bigint NOT NULL DEFAULT 0
    CHECK (preferred_served_by_self >= 0);

-- The median of a workshop's time-to-accept over the last 30 days, from the
-- bucketed histogram: at most 30 days x the bucket count rows, however long the history.
CREATE FUNCTION refresh_workshop_median_accept(p_workshop uuid, p_today date) RETURNS void LANGUAGE sql AS $$
    UPDATE workshop_stats s SET median_accept_secs_30d = (
        SELECT bucket_secs FROM (
            SELECT bucket_secs,
                   sum(n) OVER (ORDER BY bucket_secs) AS running,
                   sum(n) OVER () AS total
              FROM (SELECT bucket_secs, sum(count) AS n
                      FROM workshop_accept_histogram
                     WHERE workshop_id = p_workshop AND day > p_today - 30
                     GROUP BY bucket_secs) b
        ) c
        WHERE running * 2 >= total
        ORDER BY bucket_secs LIMIT 1
    ), updated_at = now()
    WHERE s.workshop_id = p_workshop;
$$;

-- Refunds to customers. The gateway refund is made with an idempotency key
-- derived from this row, so a retry never refunds twice.
CREATE TABLE refunds (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id          uuid NOT NULL REFERENCES orders (id),
    amount_cents      bigint NOT NULL CHECK (amount_cents > 0),
    reason            text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    idempotency_key   text NOT NULL UNIQUE,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    gateway_refund_id text UNIQUE,
    failure_reason    text,
    requested_by      uuid REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz
);
CREATE INDEX refunds_order_idx ON refunds (order_id);
