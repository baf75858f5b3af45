-- A payment whose amount or currency differs from its order is held for the
-- admin, never accepted: no request is made and nothing is split. The order
-- keeps what arrived (amount_paid_cents, payment_intent_id) and why it is held.
ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'held';
ALTER TABLE orders ADD COLUMN held_reason text, ADD COLUMN held_at timestamptz;
