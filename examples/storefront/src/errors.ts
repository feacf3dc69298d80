// What a failed operation tells a customer: each GraphQL error's message with its extensions.code (and the
// `reason` or `field` the API adds), or the network failure.
import { CombinedGraphQLErrors } from "@apollo/client";

export interface ApiProblem {
  message: string;
  code?: string;
  reason?: string;
  field?: string;
  orderId?: string;
}

export function problemsOf(error: unknown): ApiProblem[] {
  if (CombinedGraphQLErrors.is(error)) {
    return error.errors.map((e) => {
      const extensions = (e.extensions ?? {}) as Record<string, unknown>;
      const text = (key: string) => (typeof extensions[key] === "string" ? (extensions[key] as string) : undefined);
      return { message: e.message, code: text("code"), reason: text("reason"), field: text("field"), orderId: text("orderId") };
    });
  }
  if (error instanceof Error) return [{ message: error.message }];
  return error ? [{ message: String(error) }] : [];
}

export function describe(problem: ApiProblem): string {
  const tags = [problem.code, problem.reason].filter(Boolean).join(", ");
  return tags ? `${problem.message} (${tags})` : problem.message;
}
