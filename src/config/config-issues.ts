import type { ConfigIssue } from "./types.js";

/** Thrown by callers that need a Config and got problems instead; carries every issue. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly issues: ConfigIssue[]) {
    super(formatConfigIssues(issues));
  }
}

/** How a secret's value appears in messages: never the value, only whether it is empty and its length. */
export function maskSecret(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value === "" ? "" : `*** (${value.length} characters)`;
}

/** The issues as a human reads them: one block per problem, the value seen, then the rule and the fix. */
export function formatConfigIssues(issues: ConfigIssue[]): string {
  const head =
    issues.length === 1
      ? "The configuration has 1 problem:"
      : `The configuration has ${issues.length} problems:`;
  const blocks = issues.map((issue) => {
    const seen =
      issue.value === undefined
        ? "(not set)"
        : issue.value.startsWith("*** (")
          ? issue.value
          : JSON.stringify(issue.value);
    return `  - ${issue.variable} = ${seen}\n      ${issue.message}`;
  });
  return `${head}\n${blocks.join("\n")}\n`;
}
