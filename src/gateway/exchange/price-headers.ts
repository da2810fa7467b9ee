import { formatPrice, priceTokens } from "../../pricing/price.js";
import type { RouteDeps } from "../gateway-deps.js";
import type { Exchange } from "./exchange.js";

/** x-request-id, x-llm-price-quote and x-llm-currency: sent on every priced response, streams included. */
export function quoteHeaders(ex: Exchange): Record<string, string> {
  return {
    "x-request-id": ex.id,
    "x-llm-price-quote": formatPrice(ex.quote),
    "x-llm-currency": ex.currency,
  };
}

/** x-llm-price-usage: the price of the real completion tokens (non-streaming responses). */
export function usageHeader(deps: RouteDeps, completionTokens: number): Record<string, string> {
  return { "x-llm-price-usage": formatPrice(priceTokens(completionTokens, deps.rate)) };
}
