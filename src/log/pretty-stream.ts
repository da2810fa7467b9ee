// Human-friendly log lines for a terminal: "12:03:04 INFO  engine ready  engineId=4242". JSON lines otherwise.

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};
const COLORS: Record<number, string> = { 10: "90", 20: "90", 30: "36", 40: "33", 50: "31", 60: "31" };
const SKIP = new Set(["level", "time", "msg", "pid", "hostname"]);

export function formatPrettyLine(json: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof rec.level === "number" ? rec.level : 30;
  const time = new Date(typeof rec.time === "number" ? rec.time : Date.now()).toTimeString().slice(0, 8);
  const label = LEVELS[level] ?? String(level);
  const extras = Object.entries(rec)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const head = color ? `\x1b[${COLORS[level] ?? "0"}m${label}\x1b[0m` : label;
  return `${time} ${head} ${String(rec.msg ?? "")}${extras ? `  ${color ? `\x1b[90m${extras}\x1b[0m` : extras}` : ""}`;
}

/** A pino destination that writes formatted lines to `out`. */
export function prettyStream(out: NodeJS.WritableStream, color: boolean): { write(chunk: string): boolean } {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line) out.write(`${formatPrettyLine(line, color)}\n`);
      return true;
    },
  };
}
