// Kept in step with package.json's "version" (a unit test checks).
export const VERSION = "0.1.0";
