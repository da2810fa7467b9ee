import { describe, expect, it } from "vitest";
import { parseEnvFile } from "./env-file.js";
import { UsageError } from "./usage-error.js";

describe("parseEnvFile", () => {
  it("reads NAME=value lines: comments, blank lines, export, quotes, = inside values", () => {
    const text = `# runner settings\n\nREPLICAS=auto\nexport MAX_NUM_SEQS = 64\nAUTH_TOKEN="a=b c"\nMODEL_ID='/srv/m'\r\nEMPTY=\n`;
    expect(parseEnvFile(text, "f.env")).toEqual({
      REPLICAS: "auto",
      MAX_NUM_SEQS: "64",
      AUTH_TOKEN: "a=b c",
      MODEL_ID: "/srv/m",
      EMPTY: "",
    });
  });

  it("names the file and line of a line that is not NAME=value, or an unclosed quote", () => {
    expect(() => parseEnvFile("A=1\nREPLICAS 2\n", "/etc/r.env")).toThrow(UsageError);
    expect(() => parseEnvFile("A=1\nREPLICAS 2\n", "/etc/r.env")).toThrow(/\/etc\/r.env:2: 'REPLICAS 2'/);
    expect(() => parseEnvFile('TOKEN="abc\n', "r.env")).toThrow(
      /r.env:1: the value of TOKEN opens a " quote/,
    );
    expect(() => parseEnvFile("1X=2\n", "r.env")).toThrow(/not a NAME=value line/);
  });

  it("never shows the text of a bad line that may hold a secret, only where it is and what is wrong", () => {
    const secret = "s3cret-Value-0123456789";
    for (const line of [
      `AUTH_TOKEN: ${secret}`,
      `export HF_TOKEN ${secret}`,
      `DATABASE_PASSWORD: ${secret}`,
      secret,
      `"${secret}"`,
    ]) {
      let message = "";
      try {
        parseEnvFile(`REPLICAS=2\n${line}\n`, "/etc/r.env");
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, line).toMatch(/^\/etc\/r.env:2: .*not a NAME=value line/);
      expect(message, line).not.toContain(secret);
      expect(message).not.toContain("s3cret");
    }
    expect(() => parseEnvFile(`AUTH_TOKEN: ${secret}\n`, "r.env")).toThrow(
      /r.env:1: the line for AUTH_TOKEN is not a NAME=value line \(it has ':' where '=' belongs\)/,
    );
  });
});
