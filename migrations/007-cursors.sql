-- Where a polling source (vk_ads.leads) got to: the next poll asks from here, so that a restart
-- neither loses nor repeats a lead (a lead seen twice is a duplicate by its id).
CREATE TABLE cursors (
  pipeline   TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
