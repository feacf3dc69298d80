"""A product's options and variants: their limits and rules, and the admin actions that change them
(`createProduct` with options and variants, `setProductOptions`, `createProductVariant`,
`updateProductVariant`, `archiveProductVariant`). Each runs in the request's transaction with the product's
row locked (`repository.get_for_update`), so two admins changing one product's variants follow one another and
their events reach the outbox in commit order; each emits its events (`events.py`) in that transaction.

The rules, in the shop's words:
- Options: at most `MAX_OPTIONS`, each with 1 to `MAX_OPTION_VALUES` values. Names and values are trimmed,
  never blank, unique within their list whatever their case. A variant may name an option or value in any
  case; it is stored as the option spells it.
- A variant has exactly one value of each option of its product. No two *active* variants share a combination:
  an archived one may (it is kept for the orders that reference it, and a new variant may take its place).
- A SKU is unique across products and variants together; a variant may carry its own product's SKU (the
  variant sharing a single-variant product's id does).
- A variant's own price is in its product's currency; a null price or weight means the product's (inherited).
- At most `MAX_ACTIVE_VARIANTS` active variants per product, and `MAX_VARIANTS` in all (archived variants are
  never deleted: orders, stock ledgers and analytics name them).
- `setProductOptions` replaces the whole list. Options are matched to the old ones by name, whatever its case
  (a new name is a new option; a value is matched likewise, so re-spelling `s` as `S` renames it everywhere):
  - an added option gives every active variant its first value (as Shopify does: a product sold as one thing
    gains `Size: S, M, L` and its variant becomes the `S` one; `createProductVariant` adds the M and L ones);
  - a removed option disappears from the active variants' values: refused (CONFLICT, the variants named in
    `variantIds`) when two active variants would then share a combination;
  - removing a value that an active variant has is refused (CONFLICT, `variantIds`): archive the variant or
    move it to another value (`updateProductVariant(optionValues:)`) first;
  - archived variants keep the values they were sold with; restoring one (`updateProductVariant(active:
    true)`) checks them against the options of the day (give `optionValues` in the same update to fix them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Context
from shared.errors import BadUserInput, Conflict, NotFound
from shared.ids import parse_uuid
from subgraphs.products import repository
from subgraphs.products.events import ProductChange, emit_variant_events
from subgraphs.products.input_rules import single_line
from subgraphs.products.models import OPTION_NAME_MAX_LENGTH, OPTION_VALUE_MAX_LENGTH, Product, ProductOption
from subgraphs.products.repository import VariantRecord
from subgraphs.products.service import (
    ProductService,
    clean_price,
    clean_sku,
    clean_weight,
    parse_product_id,
)

# Three options of twenty values already make 8,000 combinations: far more than a shop sells of one thing.
MAX_OPTIONS = 3
MAX_OPTION_VALUES = 20
# What one product page lists and one reservation of a whole product could touch.
MAX_ACTIVE_VARIANTS = 100
# Archived variants included: bounds the rows every read of a product's variants returns.
MAX_VARIANTS = 250
# Names none of ours: a product that is not created yet has no id to exclude from the SKU check.
_NO_PRODUCT = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """An option as the rules see it: its name and values as the shop spells them."""

    name: str
    values: tuple[str, ...]

    @classmethod
    def of(cls, row: ProductOption) -> OptionSpec:
        return cls(row.name, tuple(row.values))

    def value_named(self, value: str) -> str | None:
        """This option's spelling of `value` (compared whatever its case); None when it has no such value."""
        folded = value.strip().casefold()
        return next((own for own in self.values if own.casefold() == folded), None)


# --- input rules ---------------------------------------------------------------------------------------


@contextmanager
def fields_under(prefix: str) -> Iterator[None]:
    """Errors of the rules run inside name their field under `prefix` (`variants[2]` + `sku`)."""
    try:
        yield
    except BadUserInput as exc:
        exc.field = f"{prefix}.{exc.field}" if exc.field else prefix
        raise


def clean_options(raw: object, field: str = "options") -> list[OptionSpec]:
    """[{name, values}] -> the options, checked against the limits; errors name `options[1].values[3]`."""
    if not isinstance(raw, list | tuple):
        raise BadUserInput("`options` must be a list.", field=field)
    if len(raw) > MAX_OPTIONS:
        raise BadUserInput(f"A product has at most {MAX_OPTIONS} options.", field=field)
    options: list[OptionSpec] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        name = single_line(item.get("name"), f"{where}.name", maximum=OPTION_NAME_MAX_LENGTH)
        if name.casefold() in names:
            raise BadUserInput("Two options have this name.", field=f"{where}.name")
        names.add(name.casefold())
        raw_values = item.get("values")
        if not isinstance(raw_values, list | tuple) or not 1 <= len(raw_values) <= MAX_OPTION_VALUES:
            raise BadUserInput(f"An option has 1 to {MAX_OPTION_VALUES} values.", field=f"{where}.values")
        values: list[str] = []
        for position, raw_value in enumerate(raw_values):
            value = single_line(raw_value, f"{where}.values[{position}]", maximum=OPTION_VALUE_MAX_LENGTH)
            if value.casefold() in (own.casefold() for own in values):
                raise BadUserInput("This option has this value twice.", field=f"{where}.values[{position}]")
            values.append(value)
        options.append(OptionSpec(name, tuple(values)))
    return options


def clean_option_values(
    raw: object, options: Sequence[OptionSpec], field: str = "optionValues"
) -> dict[str, str]:
    """[{name, value}] -> {option name: value} as the options spell them: exactly one valid value per option.
    Messages never repeat what the client sent (it may be anything): only the product's own option names."""
    if not isinstance(raw, list | tuple):
        raise BadUserInput(f"`{field}` must be a list.", field=field)
    if len(raw) > len(options):
        raise BadUserInput(f"One value per option: the product has {len(options)}.", field=field)
    by_name = {option.name.casefold(): option for option in options}
    chosen: dict[str, str] = {}
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        name, value = item.get("name"), item.get("value")
        option = by_name.get(name.strip().casefold()) if isinstance(name, str) else None
        if option is None:
            raise BadUserInput("The product has no option of this name.", field=f"{where}.name")
        if option.name in chosen:
            raise BadUserInput(f"Two values of the option {option.name}.", field=f"{where}.name")
        spelled = option.value_named(value) if isinstance(value, str) else None
        if spelled is None:
            raise BadUserInput(f"Not a value of the option {option.name}.", field=f"{where}.value")
        chosen[option.name] = spelled
    missing = [option.name for option in options if option.name not in chosen]
    if missing:
        raise BadUserInput(f"A value of every option is needed; missing: {', '.join(missing)}.", field=field)
    return chosen


def fits_options(option_values: Mapping[str, str], options: Sequence[OptionSpec]) -> bool:
    """Whether stored option values name exactly one value of each of `options` (an archived variant's may
    not: it keeps the values it was sold with)."""
    return set(option_values) == {option.name for option in options} and all(
        option_values[option.name] in option.values for option in options
    )


def own_price(price: object, currency: str) -> int | None:
    """A variant's price input -> its own amount; null: the product's. The currency must be the product's."""
    if price is None:
        return None
    if not isinstance(price, Mapping):
        raise BadUserInput("`price` must be {amount, currency}.", field="price")
    amount, code = clean_price(price.get("amount"), price.get("currency"))
    if code != currency:
        raise BadUserInput(
            f"A variant's price is in its product's currency, {currency}.", field="price.currency"
        )
    return amount


def own_weight(weight: object) -> int | None:
    return None if weight is None else clean_weight(weight)


def clean_active(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadUserInput("`active` cannot be null.", field="active")
    return value


def clean_new_variant(raw: Mapping[str, Any], options: Sequence[OptionSpec], currency: str) -> dict[str, Any]:
    """A variant input ({sku, price?, weight?, option_values?, active?}) -> its product_variants columns."""
    return {
        "sku": clean_sku(raw.get("sku")),
        "price_amount": own_price(raw.get("price"), currency),
        "weight_grams": own_weight(raw.get("weight")),
        "option_values": clean_option_values(raw.get("option_values", []), options),
        "active": clean_active(raw.get("active", True)),
    }


def _combination(option_values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(option_values.items()))


class VariantService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.products = ProductService(context)

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    # --- a product with its options and variants ---

    async def create_product(
        self,
        *,
        options: object | None,
        variants: object | None,
        **product: Any,
    ) -> Product:
        """`ProductService.create_product` (whose keyword arguments `product` are), with `options` ([{name,
        values}]) and `variants` ([{sku, price?, weight?, option_values?, active?}]) when given. Without
        variants the product has the one variant sharing its id and SKU (each option's first value)."""
        if options is None and variants is None:
            return await self.products.create_product(**product)
        product_sku = clean_sku(product["sku"])
        _, currency = clean_price(product["price_amount"], product["price_currency"])
        specs = clean_options(options if options is not None else [])
        rows = None if variants is None else self._new_variants(variants, specs, currency)
        if rows is not None:
            skus = [product_sku, *(row["sku"] for row in rows)]
            await repository.lock_skus(self.session, skus)
            taken = await repository.skus_taken(self.session, skus, product_id=_NO_PRODUCT)
            if product_sku in taken:
                raise Conflict(f"A product with SKU {product_sku} already exists.", field="sku")
            for index, row in enumerate(rows):
                if row["sku"] in taken:
                    raise Conflict(f"SKU {row['sku']} is taken.", field=f"variants[{index}].sku")
        return await self.products.create_product(
            **product, options=[(spec.name, spec.values) for spec in specs], variants=rows
        )

    def _new_variants(
        self, raw: object, options: Sequence[OptionSpec], currency: str
    ) -> list[dict[str, Any]]:
        if not isinstance(raw, list | tuple) or not raw:
            raise BadUserInput(
                "At least one variant (leave `variants` out for the product's own one).", field="variants"
            )
        if len(raw) > MAX_ACTIVE_VARIANTS:
            raise BadUserInput(
                f"A product has at most {MAX_ACTIVE_VARIANTS} active variants.", field="variants"
            )
        rows: list[dict[str, Any]] = []
        skus: set[str] = set()
        combinations: set[tuple[tuple[str, str], ...]] = set()
        for index, item in enumerate(raw):
            with fields_under(f"variants[{index}]"):
                row = clean_new_variant(item, options, currency)
            if row["sku"] in skus:
                raise Conflict("Two variants have this SKU.", field=f"variants[{index}].sku")
            skus.add(row["sku"])
            if row["active"]:
                combination = _combination(row["option_values"])
                if combination in combinations:
                    raise Conflict(
                        "Two active variants have these option values.",
                        field=f"variants[{index}].optionValues",
                    )
                combinations.add(combination)
            rows.append({**row, "position": index})
        return rows

    # --- options ---

    async def set_options(self, product_id: object, options: object) -> Product:
        """Replace the product's options (the rules of this module's docstring for the variants under them);
        one `ProductUpdated` and a `VariantUpdated` per variant whose values moved. The same options again
        write nothing."""
        pid = parse_product_id(product_id, field="productId")
        specs = clean_options(options)
        product = await repository.get_for_update(self.session, pid)
        if product is None:
            raise NotFound("No such product.", field="productId")
        current = [OptionSpec.of(row) for row in await repository.options_of_products(self.session, [pid])]
        records = await repository.variants_of_products(self.session, [pid])
        moved = _values_under(specs, current, records)
        if specs == current and not moved:
            self.context.loaders.remember(product)
            return product
        await repository.replace_options(self.session, pid, [(spec.name, spec.values) for spec in specs])
        await repository.set_option_values(self.session, moved)
        product, after = await self.products.touch(pid)
        await emit_variant_events(
            self.session, [record for record in after if record.id in moved], ProductChange.UPDATED
        )
        return product

    # --- variants ---

    async def create_variant(self, product_id: object, raw: Mapping[str, Any]) -> VariantRecord:
        """Add a variant to a product (new id, the next position); `VariantCreated`."""
        pid = parse_product_id(product_id, field="productId")
        product = await repository.get_for_update(self.session, pid)
        if product is None:
            raise NotFound("No such product.", field="productId")
        options = [OptionSpec.of(row) for row in await repository.options_of_products(self.session, [pid])]
        row = clean_new_variant(raw, options, product.price_currency)
        records = await repository.variants_of_products(self.session, [pid])
        if len(records) >= MAX_VARIANTS:
            raise BadUserInput(
                f"A product has at most {MAX_VARIANTS} variants, archived ones included.", field="productId"
            )
        if row["active"]:
            _check_can_be_active(row["option_values"], records, moving=None)
        await self._claim_sku(row["sku"], pid, None)
        row.update(product_id=pid, position=max((record.position for record in records), default=-1) + 1)
        try:
            [variant_id] = await repository.insert_variants(self.session, [row])
        except IntegrityError as exc:  # a product created meanwhile without variants took the SKU
            raise Conflict(f"SKU {row['sku']} is taken.", field="sku") from exc
        return await self._announce(pid, variant_id, ProductChange.CREATED)

    async def update_variant(self, variant_id: object, changes: Mapping[str, Any]) -> VariantRecord:
        """Change exactly the fields in `changes` (sku, price, weight, option_values, active); a null price or
        weight inherits the product's again; `active: true` restores an archived variant. `VariantUpdated`
        (`VariantArchived` when it archives); changing nothing writes nothing."""
        vid = parse_uuid(variant_id, "id", "a variant id")
        found = await repository.variants_by_id(self.session, [vid])
        if not found:
            raise NotFound("No such variant.", field="id")
        pid = found[0].product_id
        product = await repository.get_for_update(self.session, pid)
        if product is None:  # a variant's product is never deleted (foreign key)
            raise NotFound("No such variant.", field="id")
        # Read again under the product's lock: what a concurrent change committed meanwhile counts.
        records = await repository.variants_of_products(self.session, [pid])
        current = next(record for record in records if record.id == vid)
        options = [OptionSpec.of(row) for row in await repository.options_of_products(self.session, [pid])]
        values = _variant_changes(current, changes, options, product.price_currency)
        if not values:
            return current
        becomes_active = values.get("active", current.active)
        if becomes_active and ("active" in values or "option_values" in values):
            option_values = values.get("option_values", current.option_values)
            if not fits_options(option_values, options):
                raise BadUserInput(
                    "Its option values are not the product's options of today: give `optionValues` with it.",
                    field="optionValues",
                )
            _check_can_be_active(option_values, records, moving=current if current.active else None)
        if "sku" in values:
            await self._claim_sku(values["sku"], pid, vid)
        try:
            await repository.update_variant(self.session, vid, values)
        except IntegrityError as exc:
            raise Conflict(f"SKU {values.get('sku')} is taken.", field="sku") from exc
        archived = current.active and not becomes_active
        return await self._announce(pid, vid, ProductChange.ARCHIVED if archived else ProductChange.UPDATED)

    async def archive_variant(self, variant_id: object) -> VariantRecord:
        """Stop selling a variant (inventory refuses to reserve it); it stays readable. Idempotent."""
        return await self.update_variant(variant_id, {"active": False})

    async def _claim_sku(self, sku: str, product_id: uuid.UUID, variant_id: uuid.UUID | None) -> None:
        await repository.lock_skus(self.session, [sku])
        if await repository.skus_taken(self.session, [sku], product_id=product_id, variant_id=variant_id):
            raise Conflict(f"SKU {sku} is taken.", field="sku")

    async def _announce(
        self, product_id: uuid.UUID, variant_id: uuid.UUID, change: ProductChange
    ) -> VariantRecord:
        after = await repository.variants_of_products(self.session, [product_id])
        record = next(record for record in after if record.id == variant_id)
        await emit_variant_events(self.session, [record], change)
        self.products.remember_variants(product_id, after)
        return record


def _variant_changes(
    current: VariantRecord, changes: Mapping[str, Any], options: Sequence[OptionSpec], currency: str
) -> dict[str, Any]:
    """The product_variants columns `changes` would change (what equals the stored value is left out)."""
    values: dict[str, Any] = {}
    if "sku" in changes:
        values["sku"] = clean_sku(changes["sku"])
    if "price" in changes:
        values["price_amount"] = own_price(changes["price"], currency)
    if "weight" in changes:
        values["weight_grams"] = own_weight(changes["weight"])
    if "option_values" in changes:
        values["option_values"] = clean_option_values(changes["option_values"], options)
    if "active" in changes:
        values["active"] = clean_active(changes["active"])
    stored = {
        "sku": current.sku,
        "price_amount": current.own_price_amount,
        "weight_grams": current.own_weight_grams,
        "option_values": current.option_values,
        "active": current.active,
    }
    return {name: value for name, value in values.items() if stored[name] != value}


def _check_can_be_active(
    option_values: Mapping[str, str], records: Sequence[VariantRecord], *, moving: VariantRecord | None
) -> None:
    """A variant about to be active (new, restored, or moved to other values: `moving`, already active) needs
    a combination no other active variant has, and room under `MAX_ACTIVE_VARIANTS`."""
    others = [record for record in records if record.active and (moving is None or record.id != moving.id)]
    clash = next((r for r in others if _combination(r.option_values) == _combination(option_values)), None)
    if clash is not None:
        raise Conflict(
            "An active variant has these option values already.",
            field="optionValues",
            variantId=str(clash.id),
        )
    if moving is None and len(others) >= MAX_ACTIVE_VARIANTS:
        raise BadUserInput(f"A product has at most {MAX_ACTIVE_VARIANTS} active variants.", field="active")


def _values_under(
    options: Sequence[OptionSpec], current: Sequence[OptionSpec], records: Sequence[VariantRecord]
) -> dict[uuid.UUID, dict[str, str]]:
    """The new option values of every active variant whose values `options` (replacing `current`) change;
    refuses (CONFLICT) a removed value an active variant has and two active variants left alike."""
    old = {option.name.casefold(): option for option in current}
    moved: dict[uuid.UUID, dict[str, str]] = {}
    combinations: dict[tuple[tuple[str, str], ...], uuid.UUID] = {}
    for record in (record for record in records if record.active):
        values: dict[str, str] = {}
        for index, option in enumerate(options):
            before = old.get(option.name.casefold())
            had = record.option_values.get(before.name) if before is not None else None
            if had is None:  # a new option: its first value
                values[option.name] = option.values[0]
                continue
            spelled = option.value_named(had)
            if spelled is None:
                users = [str(r.id) for r in records if r.active and r.option_values.get(before.name) == had]
                raise Conflict(
                    f"Active variants have a value of {option.name} this change removes: archive them or "
                    "give them another value first.",
                    field=f"options[{index}].values",
                    variantIds=users,
                )
            values[option.name] = spelled
        combination = _combination(values)
        if combination in combinations:
            raise Conflict(
                "Two active variants would have the same option values: archive one first.",
                field="options",
                variantIds=[str(combinations[combination]), str(record.id)],
            )
        combinations[combination] = record.id
        if values != record.option_values:
            moved[record.id] = values
    return moved
