import type { RouteDeps } from "../gateway-deps.js";
import { errors, type GatewayError } from "../http/gateway-error.js";

/** The error for a finished non-streaming answer whose ledger row failed: the answer is withheld, not served. */
export function unrecorded(deps: RouteDeps): GatewayError {
  return errors.ledgerUnwritable(
    deps.ledger.unwritable?.() ?? "the request's ledger row could not be written",
  );
}
