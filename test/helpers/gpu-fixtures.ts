export { H100 } from "../../src/gpu/testing/gpu-fixtures.js";
