-- Indexes that keep reads over "who is online" proportional to what they return,
-- found by scripts/bench (20,000 mechanics, 4,000 online; BENCHMARKS.md).

-- The directory's "Any available" card: workshops' online mechanics come from
-- workshop_stats.mechanics_online, independents' from this small index.
CREATE INDEX mechanics_online_independent_idx ON mechanics (user_id)
    WHERE workshop_id IS NULL AND is_online AND application_status = 'approved';

-- Routing a new request reads every online mechanic's routing columns in the
-- webhook's transaction (sessions::lifecycle, CANDIDATE_SELECT ... WHERE
-- m.is_online): covered here, it is an index-only scan instead of a visit to
-- one heap page per online mechanic.
CREATE INDEX mechanics_online_candidates_idx ON mechanics (user_id)
    INCLUDE (workshop_id, application_status, is_online, active_sessions, capacity, stripe_payouts_enabled)
    WHERE is_online;

-- ... and counts the offline ones for the routing audit (an index-only count
-- instead of a scan of every mechanic).
CREATE INDEX mechanics_offline_idx ON mechanics (user_id) WHERE NOT is_online;
