/** CORS_ORIGINS: "*" (any origin, vLLM's default), a list of origins, or an empty list (CORS off). */
export type CorsOrigins = "*" | string[];

/**
 * Parses CORS_ORIGINS: `*`, or origins separated by commas (`https://app.example.com,http://localhost:3000`),
 * or the empty string to turn CORS off. Returns the value, or the rule that was broken and how to fix it.
 */
export function parseCorsOrigins(raw: string): CorsOrigins | { problem: string } {
  const trimmed = raw.trim();
  if (trimmed === "") return [];
  if (trimmed === "*") return "*";
  const origins: string[] = [];
  for (const part of trimmed.split(",")) {
    const origin = part.trim();
    if (origin === "*") {
      return { problem: 'mixes "*" with other origins. Use "*" alone for any origin, or list origins only.' };
    }
    let url: URL | null = null;
    try {
      url = new URL(origin);
    } catch {
      url = null;
    }
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== origin) {
      return {
        problem: `has ${JSON.stringify(origin)}, which is not an origin. Write each as scheme://host[:port] with no path or trailing slash, e.g. "https://app.example.com,http://localhost:3000"; "*" for any origin; empty to turn CORS off.`,
      };
    }
    origins.push(origin);
  }
  return origins;
}
