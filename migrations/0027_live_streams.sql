-- Every open live stream, on any instance, and the log-in it was opened under
-- (issue 20: "every live stream belongs to a live log-in", checked by
-- `autodoctor check`). A stream writes its row when it starts sending, sets
-- `confirmed_at` each time it has re-checked that its log-in still holds
-- (every 10 s, and at once when the person's access changes), and deletes the
-- row when it closes. A row not confirmed for a while belongs to an instance
-- that died.
CREATE TABLE live_streams (
    stream_id      uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The `tower_sessions.session` id (and `user_sessions.session_id`) of the log-in.
    login_id       text NOT NULL,
    -- What the stream shows: offers, order, session, call.
    kind           text NOT NULL CHECK (kind IN ('offers', 'order', 'session', 'call')),
    opened_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at   timestamptz NOT NULL DEFAULT now(),
    -- When the log-in ended by the deletion of its `user_sessions` row (a
    -- log-out, a password change ending the others): stamped by the trigger
    -- below, so that the check knows since when the stream should be gone.
    login_ended_at timestamptz
);
CREATE INDEX live_streams_login_idx ON live_streams (login_id);
CREATE INDEX live_streams_user_idx ON live_streams (user_id, confirmed_at);

CREATE FUNCTION user_sessions_end_live_streams() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE live_streams SET login_ended_at = now()
     WHERE login_id = OLD.session_id AND login_ended_at IS NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER user_sessions_end_live_streams AFTER DELETE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION user_sessions_end_live_streams();
