-- The public workshop page: a logo per workshop, and the index its reviews
-- (rated sessions, newest first) and rating distribution are read from.

-- The logo as kept: re-encoded from the owner's upload by the session photos'
-- code (a JPEG of at most 320 pixels a side, no metadata of the original).
-- `version` is part of the logo's URL, so a new logo shows at once and an old
-- URL can be cached for a long time.
CREATE TABLE workshop_logos (
    workshop_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    image       bytea NOT NULL CHECK (length(image) BETWEEN 1 AND 1048576),
    width       integer NOT NULL CHECK (width BETWEEN 1 AND 2048),
    height      integer NOT NULL CHECK (height BETWEEN 1 AND 2048),
    version     bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    uploaded_by uuid REFERENCES users (id),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sessions_workshop_rated_idx ON sessions (workshop_id, rated_at DESC, id)
    WHERE rating IS NOT NULL;
