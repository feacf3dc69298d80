import { graphql } from "../gql";

export const ADDRESS_BOOK = graphql(`
  query AddressBook {
    me {
      id
      addresses { id name line1 line2 city postalCode country isDefaultShipping isDefaultBilling }
    }
  }
`);

export const ADD_ADDRESS = graphql(`
  mutation AddAddress($input: AddressInput!, $isDefaultShipping: Boolean!) {
    addAddress(input: $input, isDefaultShipping: $isDefaultShipping) { id }
  }
`);

export const REMOVE_ADDRESS = graphql(`
  mutation RemoveAddress($id: ID!) {
    removeAddress(id: $id)
  }
`);
