export {
  engineStream,
  type FakeReply,
  type FakeStep,
  FakeUpstream,
} from "../../src/gateway/testing/fake-upstream.js";
