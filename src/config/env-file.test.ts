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
});
