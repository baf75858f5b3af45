//! Database tests of chat photos (filled below).
