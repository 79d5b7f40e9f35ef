-- The runs a letter reports, as a JSON list of run ids: retention keeps them while the letter
-- waits to be sent, so that its links lead to the runs. Letters written before have none.
ALTER TABLE letters ADD COLUMN run_ids TEXT;
