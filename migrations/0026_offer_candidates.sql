-- What dispatch needs to know of each mechanic, and whether a request's
-- preferred workshop has someone who could take it now: one definition each,
-- for the offers a mechanic lists, the routing audit and accept (they were SQL
-- fragments pasted into queries at run time; now the queries are checked at
-- compile time against these).
CREATE VIEW offer_candidates AS
SELECT m.user_id,
       m.workshop_id,
       (m.application_status = 'approved' AND (m.workshop_id IS NULL OR o.status = 'active')) AS approved,
       m.is_online,
       m.active_sessions,
       m.capacity,
       CASE WHEN m.workshop_id IS NULL THEN m.stripe_payouts_enabled
            ELSE coalesce(o.stripe_payouts_enabled, false) END AS payout_ready
  FROM mechanics m
  LEFT JOIN organizations o ON o.id = m.workshop_id;

CREATE FUNCTION preferred_has_eligible(preferred uuid, require_payouts boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM mechanics pm JOIN organizations po ON po.id = pm.workshop_id
         WHERE pm.workshop_id = preferred AND po.status = 'active'
           AND pm.application_status = 'approved' AND pm.is_online AND pm.active_sessions < pm.capacity
           AND (NOT require_payouts OR po.stripe_payouts_enabled))
$$;
