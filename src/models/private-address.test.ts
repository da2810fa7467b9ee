// Address ranges: loopback 127/8 and ::1, private 10/8, 172.16/12, 192.168/16 (RFC 1918), link-local
// 169.254/16 and fe80::/10 (RFC 3927, 4291), unique-local fc00::/7 (RFC 4193), shared 100.64/10 (RFC 6598),
// "this network" 0/8 (RFC 1122), and the localhost names (RFC 6761). Hostnames as WHATWG URL writes them.
import { describe, expect, it } from "vitest";
import { isPrivateHost } from "./private-address.js";

const hostOf = (url: string) => new URL(url).hostname;

describe("a URL host on this machine or a private network", () => {
  it.each([
    "http://127.0.0.1:8000/admin",
    "http://127.8.9.10/",
    "http://2130706433/", // 127.0.0.1 written as one number: URL normalises it
    "http://0x7f.1/",
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://localhost:9/",
    "http://LOCALHOST./",
    "http://admin.localhost/",
  ])("%s is private", (url) => {
    expect(isPrivateHost(hostOf(url))).toBe(true);
  });

  it.each([
    "https://huggingface.co/",
    "https://cdn-lfs.hf.co/repos/x",
    "https://cas-bridge.xethub.hf.co/x",
    "http://8.8.8.8/",
    "http://172.32.0.1/",
    "http://100.128.0.1/",
    "http://[2606:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",
    "http://localhost.example.com/",
  ])("%s is public", (url) => {
    expect(isPrivateHost(hostOf(url))).toBe(false);
  });
});
