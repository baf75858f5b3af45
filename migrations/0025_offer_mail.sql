-- Mail to a mechanic who is online but has no dashboard open, about requests
-- offered to them (issue 18).
--
-- Which mechanics have their live offers open, on any instance: one row per
-- open `/api/live/offers` stream. The stream writes its row when it opens,
-- touches `seen_at` every time it re-checks its log-in, and deletes the row
-- when it closes. A row whose `seen_at` is old belongs to an instance that
-- died, and counts as closed.
CREATE TABLE offer_stream_presence (
    stream_id   uuid PRIMARY KEY,
    mechanic_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offer_stream_presence_mechanic_idx ON offer_stream_presence (mechanic_id, seen_at);

-- The last such mail per mechanic: at most one every few minutes. A
-- conditional upsert on this row decides which instance sends the next one.
CREATE TABLE offer_mail_state (
    mechanic_id  uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    last_sent_at timestamptz NOT NULL
);

-- Each request offered to a mechanic is told to them once: on their open
-- dashboard ('live': never mailed then) or in one mail ('mail').
CREATE TABLE offers_told (
    mechanic_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    request_id  uuid NOT NULL REFERENCES session_requests(id) ON DELETE CASCADE,
    told_at     timestamptz NOT NULL,
    how         text NOT NULL CHECK (how IN ('live', 'mail')),
    PRIMARY KEY (mechanic_id, request_id)
);
