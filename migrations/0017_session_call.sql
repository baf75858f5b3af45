-- The diagnostic session itself: which plans include a video call, the session
-- clock (started when both parties are in the room, or by the mechanic), and
-- the call's signalling messages (offer, answer, ICE candidates, hang-up).

-- The chat plan is chat and photos; the video plans add the call.
ALTER TABLE plans ADD COLUMN includes_call boolean NOT NULL DEFAULT true;
UPDATE plans SET includes_call = false WHERE code = 'chat10';

ALTER TABLE sessions
    -- When each participant first opened the room.
    ADD COLUMN customer_joined_at timestamptz,
    ADD COLUMN mechanic_joined_at timestamptz,
    -- The plan's minutes: started once, with the warning, the end and the moment
    -- the call closes (the end plus a grace period) fixed at that start.
    ADD COLUMN clock_started_at   timestamptz,
    ADD COLUMN clock_warns_at     timestamptz,
    ADD COLUMN clock_ends_at      timestamptz,
    ADD COLUMN call_closes_at     timestamptz,
    -- The last signalling message's number in this session (see call_signals).
    ADD COLUMN signal_seq         bigint NOT NULL DEFAULT 0 CHECK (signal_seq >= 0),
    ADD CONSTRAINT sessions_clock_whole CHECK (
        (clock_started_at IS NULL) = (clock_ends_at IS NULL)
        AND (clock_ends_at IS NULL) = (clock_warns_at IS NULL)
        AND (clock_ends_at IS NULL) = (call_closes_at IS NULL)
        AND (clock_started_at IS NULL OR (clock_started_at <= clock_warns_at
             AND clock_warns_at <= clock_ends_at AND clock_ends_at <= call_closes_at))
    );

-- Signalling between the two browsers of a session. Numbered per session under
-- the session row's lock, so numbers are given in commit order and a reader that
-- resumes after number N misses nothing. NOTIFY carries only (session, number):
-- an SDP is several KB and a notification at most 8,000 bytes.
CREATE TABLE call_signals (
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq        bigint NOT NULL CHECK (seq > 0),
    sender_id  uuid NOT NULL REFERENCES users (id),
    kind       text NOT NULL CHECK (kind IN ('hello', 'welcome', 'offer', 'answer', 'candidate', 'restart', 'bye')),
    payload    jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object' AND octet_length(payload::text) <= 65536),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, seq)
);

-- Signals are pruned when the session ends, however it ends.
CREATE FUNCTION prune_call_signals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM call_signals WHERE session_id = NEW.id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER sessions_prune_call_signals
    AFTER UPDATE OF status ON sessions
    FOR EACH ROW WHEN (NEW.status IN ('completed', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION prune_call_signals();
