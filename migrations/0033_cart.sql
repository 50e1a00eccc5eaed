-- A user's cart: numbers ticked in searches, kept across searches and pages until they are
-- reserved together, removed, or no longer offered. One row per user and number; the prices
-- and availability are read when the cart is shown, never stored.
CREATE TABLE cart_items (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    e164 text NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, e164)
);
CREATE INDEX cart_items_tenant ON cart_items (tenant_id);

ALTER TABLE cart_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON cart_items
    USING (inward_sees(tenant_id)) WITH CHECK (inward_sees(tenant_id));
