import { GatewayError } from "../http/gateway-error.js";

// Checks on a request body before JSON.parse, so bad input is a clear 400 rather than an altered prompt
// (invalid UTF-8 silently replaced by U+FFFD) or a crash deeper down (nesting that overflows a parser's stack).

export const MAX_JSON_DEPTH = 64;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The bytes as UTF-8 text (a leading BOM dropped); a 400 naming the problem when they are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new GatewayError(
      400,
      "invalid_encoding",
      "The request body is not valid UTF-8: send JSON text encoded as UTF-8.",
    );
  }
}

/** A 400 when arrays/objects nest deeper than `max` (strings are skipped, escapes included). */
export function assertJsonDepth(text: string, max = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) {
        throw new GatewayError(
          400,
          "too_deep",
          `The request body nests arrays/objects more than ${max} levels deep; flatten it.`,
        );
      }
    } else if (ch === 0x5d || ch === 0x7d) {
      depth--;
    }
  }
}
