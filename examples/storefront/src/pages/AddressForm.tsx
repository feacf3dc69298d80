// An address as the API takes it (AddressInput): name, lines, city, postal code, ISO country code, phone. The
// country is chosen among those the shop ships to (`shippingCountries`); typed as a code if that list is empty.
import { useQuery } from "@apollo/client/react";
import { useState, type FormEvent } from "react";
import { graphql } from "../gql";
import type { AddressInput } from "../gql/graphql";

const SHIPPING_COUNTRIES = graphql(`
  query ShippingCountries {
    shippingCountries
  }
`);

const countryNames = new Intl.DisplayNames(undefined, { type: "region" });

const EMPTY: AddressInput = { name: "", line1: "", line2: "", city: "", postalCode: "", country: "", phone: "" };

const FIELDS: [keyof AddressInput, string, string][] = [
  ["name", "Full name", "name"],
  ["line1", "Street and number", "address-line1"],
  ["line2", "Apartment, floor (optional)", "address-line2"],
  ["city", "City", "address-level2"],
  ["postalCode", "Postal code", "postal-code"],
  ["country", "Country", "country"],
  ["phone", "Phone (optional)", "tel"],
];

export function AddressForm({
  idPrefix,
  submitLabel,
  busy,
  withSaveOption,
  onSubmit,
}: {
  idPrefix: string;
  submitLabel: string;
  busy: boolean;
  withSaveOption?: boolean;
  onSubmit(address: AddressInput, save: boolean): void;
}) {
  const [address, setAddress] = useState<AddressInput>(EMPTY);
  const countries = useQuery(SHIPPING_COUNTRIES).data?.shippingCountries ?? [];
  const [save, setSave] = useState(true);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit({ ...address, country: address.country.trim().toUpperCase() }, save);
  };
  return (
    <form className="address-form" onSubmit={submit}>
      {FIELDS.map(([key, label, autoComplete]) => {
        const optional = label.includes("optional");
        if (key === "country" && countries.length > 0) {
          return (
            <label key={key} htmlFor={`${idPrefix}-${key}`}>
              {label}
              <select
                id={`${idPrefix}-${key}`}
                name={key}
                autoComplete={autoComplete}
                required
                value={address.country}
                onChange={(e) => setAddress({ ...address, country: e.target.value })}
              >
                <option value="">Choose a country</option>
                {countries.map((code) => (
                  <option key={code} value={code}>
                    {countryNames.of(code) ?? code} ({code})
                  </option>
                ))}
              </select>
            </label>
          );
        }
        return (
          <label key={key} htmlFor={`${idPrefix}-${key}`}>
            {key === "country" ? "Country code (2 letters, e.g. DE)" : label}
            <input
              id={`${idPrefix}-${key}`}
              name={key}
              autoComplete={autoComplete}
              required={!optional}
              maxLength={key === "country" ? 2 : 200}
              pattern={key === "country" ? "[A-Za-z]{2}" : undefined}
              value={address[key] ?? ""}
              onChange={(e) => setAddress({ ...address, [key]: e.target.value })}
            />
          </label>
        );
      })}
      {withSaveOption && (
        <label className="inline">
          <input type="checkbox" checked={save} onChange={(e) => setSave(e.target.checked)} /> Save to my address book
        </label>
      )}
      <button type="submit" disabled={busy}>{submitLabel}</button>
    </form>
  );
}
