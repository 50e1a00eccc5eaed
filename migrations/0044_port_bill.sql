-- A copy of a recent bill of the old account, beside the LOA: carriers compare a port request
-- with it, and a mismatch is the commonest rejection.
ALTER TABLE port_requests
    ADD COLUMN bill bytea CHECK (bill IS NULL OR octet_length(bill) <= 1572864),
    ADD COLUMN bill_filename text,
    ADD COLUMN bill_content_type text CHECK (bill_content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    ADD COLUMN bill_uploaded_at timestamptz;
