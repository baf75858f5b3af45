-- Photos in the session room's chat. The server re-encodes every upload to a
-- JPEG (no metadata) and a thumbnail; both are kept here (bytes, thumb) by
-- default, or in S3-compatible storage under storage_key (PHOTO_STORE=s3).
CREATE TABLE session_photos (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES sessions (id),
    uploader_id  uuid NOT NULL REFERENCES users (id),
    content_type text NOT NULL DEFAULT 'image/jpeg' CHECK (content_type = 'image/jpeg'),
    width        integer NOT NULL CHECK (width BETWEEN 1 AND 4096),
    height       integer NOT NULL CHECK (height BETWEEN 1 AND 4096),
    thumb_width  integer NOT NULL CHECK (thumb_width BETWEEN 1 AND 1024),
    thumb_height integer NOT NULL CHECK (thumb_height BETWEEN 1 AND 1024),
    bytes        bytea,
    thumb        bytea,
    storage_key  text CHECK (length(storage_key) BETWEEN 1 AND 512),
    -- The size of the stored full image, in bytes.
    byte_size    integer NOT NULL CHECK (byte_size > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Either both images are here, or both are in the object store.
    CONSTRAINT session_photos_stored_once CHECK (
        (bytes IS NOT NULL AND thumb IS NOT NULL AND storage_key IS NULL)
        OR (bytes IS NULL AND thumb IS NULL AND storage_key IS NOT NULL))
);
CREATE INDEX session_photos_session_idx ON session_photos (session_id);

-- A chat message is a text, a photo, or a photo with a caption.
ALTER TABLE chat_messages ADD COLUMN photo_id uuid UNIQUE REFERENCES session_photos (id);
ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_body_check;
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_body_check
    CHECK (length(btrim(body)) <= 2000 AND (length(btrim(body)) >= 1 OR photo_id IS NOT NULL));
