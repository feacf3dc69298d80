"""products: tell inventory which products were archived before it kept the catalog's flags

Inventory learns that a product is archived from `ProductUpdated` (its migration 0002 starts every stock row
as sellable: it cannot read products' database). A product archived before then sent its event before
inventory consumed them, and the stream may no longer hold it; so this writes one `ProductUpdated` (change
`archived`, with `variantIds`) per archived product to the outbox, which the relay publishes like any other.
Consumers handle it as a repeat of the archive: inventory marks the product's rows not sellable,
notifications and analytics change nothing they had not already. New databases have no products: nothing is
written.

Revision ID: 0008_announce_archived
Revises: 0007_option_tokens
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_announce_archived"
down_revision: str | None = "0007_option_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ANNOUNCE = """
INSERT INTO outbox (event_id, event_type, aggregate_id, payload)
SELECT gen_random_uuid(), 'ProductUpdated', p.id::text, jsonb_build_object(
    'productId', p.id::text,
    'sku', p.sku,
    'name', p.name,
    'price', jsonb_build_object('amount', p.price_amount, 'currency', p.price_currency),
    'previousPrice', NULL,
    'category', p.category,
    'active', false,
    'change', 'archived',
    'variantIds', coalesce(
        (
            SELECT jsonb_agg(v.id::text ORDER BY v.position, v.id)
            FROM product_variants v WHERE v.product_id = p.id
        ),
        '[]'::jsonb
    )
)
FROM products p
WHERE NOT p.active
"""


def upgrade() -> None:
    op.execute(_ANNOUNCE)


def downgrade() -> None:
    # Events once written are history: there is nothing to take back.
    pass
