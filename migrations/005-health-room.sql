-- /healthz also proves there is room for a run: it grows this column by a few pages and
-- shrinks it back in one transaction, which fails when the disk (or max_page_count) is full.
ALTER TABLE health ADD COLUMN room BLOB;
