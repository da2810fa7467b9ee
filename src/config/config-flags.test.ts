import { describe, expect, it } from "vitest";
import { UsageError } from "../cli/cli-command.js";
import { CONFIG_FLAGS, splitConfigFlags } from "./config-flags.js";
import { ENV_NAMES } from "./env-schema.js";

describe("splitConfigFlags", () => {
  it("takes both --flag value and --flag=value, leaving the rest in order", () => {
    expect(splitConfigFlags(["--json", "--port", "9000", "--model-id=org/m", "extra"])).toEqual({
      overrides: { PORT: "9000", MODEL_ID: "org/m" },
      rest: ["--json", "extra"],
    });
  });

  it("treats --use-8bit as a boolean flag, with an explicit =false", () => {
    expect(splitConfigFlags(["--use-8bit"]).overrides).toEqual({ USE_8BIT: "true" });
    expect(splitConfigFlags(["--use-8bit=false"]).overrides).toEqual({ USE_8BIT: "false" });
    expect(splitConfigFlags(["--use-8bit", "x"])).toEqual({ overrides: { USE_8BIT: "true" }, rest: ["x"] });
  });

  it("maps every flag in the table, --home to LLM_RUNNER_HOME", () => {
    const args = CONFIG_FLAGS.filter((f) => !f.boolean).flatMap((f) => [f.flag, `v-${f.env}`]);
    const { overrides } = splitConfigFlags(args);
    for (const f of CONFIG_FLAGS.filter((f) => !f.boolean)) expect(overrides[f.env]).toBe(`v-${f.env}`);
    expect(splitConfigFlags(["--home", "/x"]).overrides).toEqual({ LLM_RUNNER_HOME: "/x" });
  });

  it("only maps to variables the config reads", () => {
    for (const f of CONFIG_FLAGS) expect(ENV_NAMES).toContain(f.env);
  });

  it("keeps an empty or negative value for the config to judge", () => {
    expect(splitConfigFlags(["--port="]).overrides).toEqual({ PORT: "" });
    expect(splitConfigFlags(["--port", "-1"]).overrides).toEqual({ PORT: "-1" });
  });

  it("lets the last occurrence win", () => {
    expect(splitConfigFlags(["--port", "1", "--port", "2"]).overrides).toEqual({ PORT: "2" });
  });

  it("throws UsageError for a value flag without its value", () => {
    expect(() => splitConfigFlags(["--port"])).toThrow(UsageError);
    expect(() => splitConfigFlags(["--max-model-len", "--json"])).toThrow(/--max-model-len needs a value/);
  });

  it("leaves everything after -- alone", () => {
    expect(splitConfigFlags(["--", "--port", "1"])).toEqual({ overrides: {}, rest: ["--", "--port", "1"] });
  });
});
