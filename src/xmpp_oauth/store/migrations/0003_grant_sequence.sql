-- Schema version 3: number grants in creation (commit) order, for new-grant notices.
-- Like revocations, the number comes from a counters row that each creating transaction
-- updates: that serialises creators, so seq order is commit order and a reader that saw
-- seq = n never later finds an unseen m < n (Store.grants_created_since).
-- Existing grants are numbered by created_at, grant_id; the counter starts after them.

ALTER TABLE grants ADD COLUMN seq {BIGINT};

UPDATE grants SET seq = numbered.n
FROM (SELECT grant_id, ROW_NUMBER() OVER (ORDER BY created_at, grant_id) AS n FROM grants)
    AS numbered
WHERE numbered.grant_id = grants.grant_id;

INSERT INTO counters (name, value) SELECT 'grant', COALESCE(MAX(seq), 0) FROM grants;

CREATE UNIQUE INDEX grants_by_seq ON grants (seq);
