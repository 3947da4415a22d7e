import { describe, expect, it } from "vitest";
import { checkWebhookUrl } from "../../src/webhooks/url-rules";

const refused = (url: string, allowLocal = false) => {
  const verdict = checkWebhookUrl(url, allowLocal);
  return verdict.ok ? null : verdict.reason;
};

describe("webhook URL rules", () => {
  it("takes https to public hosts and addresses, on any port", () => {
    for (const url of [
      "https://hooks.example.com/chat-context",
      "https://hooks.example.com:8443/x?y=1",
      "https://8.8.8.8/hook",
      "https://[2606:4700:4700::1111]/hook",
      "https://172.32.0.1/",
      "https://100.128.0.1/",
    ]) {
      expect(refused(url), url).toBeNull();
    }
  });

  it("refuses plain http to public hosts, and every scheme but https", () => {
    expect(refused("http://hooks.example.com/x")).toMatch(/https/);
    expect(refused("http://hooks.example.com/x", true)).toMatch(/https/);
    for (const url of ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "data:text/plain,x", "ws://example.com/"]) {
      expect(refused(url, true), url).toBe("must use https");
    }
  });

  it("refuses what is no absolute URL, and URLs longer than 2048 characters", () => {
    for (const url of ["", "not a url", "/relative/path", "//example.com/x", "https://"]) expect(refused(url), url).toMatch(/absolute URL/);
    expect(refused(`https://example.com/${"a".repeat(2048)}`)).toMatch(/2048/);
  });

  it("refuses user names and passwords in the URL", () => {
    for (const url of ["https://user:pass@example.com/", "https://user@example.com/", "https://:pass@example.com/"]) {
      expect(refused(url), url).toMatch(/user name or password/);
    }
  });

  const loopback = [
    "http://127.0.0.1:9000/hook",
    "https://127.0.0.1/",
    "http://127.8.9.10/",
    "http://localhost:8787/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://[::1]:8080/",
    "http://2130706433/", // 127.0.0.1 in decimal
    "http://0x7f.1/", // and in hex shorthand
    "http://127.1/",
    "http://[::ffff:127.0.0.1]/",
  ];

  it("refuses loopback hosts unless the deployment allows local webhooks", () => {
    for (const url of loopback) expect(refused(url), url).toMatch(/loopback.*ALLOW_LOCAL_WEBHOOKS=true/);
  });

  it("takes loopback hosts, over http or https, where local webhooks are allowed", () => {
    for (const url of loopback) expect(refused(url, true), url).toBeNull();
  });

  const classes: [string, string[]][] = [
    [
      "a private address",
      [
        "https://10.0.0.1/",
        "https://10.255.255.255/",
        "https://172.16.0.1/",
        "https://172.31.255.255/",
        "https://192.168.1.1/",
        "https://100.64.0.1/",
        "https://[fc00::1]/",
        "https://[fd12:3456::1]/",
        "https://[fec0::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:192.168.0.1]/",
        "https://[64:ff9b::a00:1]/", // NAT64 of 10.0.0.1
        "https://[2002:c0a8:101::1]/", // 6to4 of 192.168.1.1
        "https://012.0.0.1/", // octal 10.0.0.1
        "https://167772161/", // 10.0.0.1 in decimal
      ],
    ],
    [
      "a link-local address",
      ["https://169.254.169.254/latest/meta-data", "https://[fe80::1]/", "https://[febf::1]/", "https://[::ffff:169.254.1.1]/"],
    ],
    ["an unspecified address", ["https://0.0.0.0/", "https://0/", "https://0.1.2.3/", "https://[::]/"]],
    ["a multicast address", ["https://224.0.0.1/", "https://239.255.255.250/", "https://[ff02::1]/", "https://[ff05::1:3]/"]],
    [
      "a reserved address",
      [
        "https://240.0.0.1/",
        "https://255.255.255.255/",
        "https://192.0.2.1/",
        "https://198.18.0.1/",
        "https://[::10.0.0.1]/",
        "https://[2001:db8::1]/",
      ],
    ],
  ];

  for (const [kind, urls] of classes) {
    it(`refuses ${kind}, whether or not local webhooks are allowed`, () => {
      for (const url of urls) {
        expect(refused(url), url).toContain(kind);
        expect(refused(url, true), url).toContain(kind);
      }
    });
  }
});
