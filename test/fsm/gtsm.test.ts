// RFC 5082 building blocks on real sockets: the TTL of the SYN that opened an accepted connection.
import { readFileSync } from "node:fs";
import net from "node:net";
import { afterAll, expect, it } from "vitest";
import { connectWith, saveSyn, setTtlFd, synTtl } from "../../src/fsm/sockopt.js";

const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

async function accepted(ttl: number | undefined): Promise<net.Socket> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.46.1", r));
  saveSyn(server);
  const got = new Promise<net.Socket>((r) => server.once("connection", r));
  const port = (server.address() as net.AddressInfo).port;
  const opts = { host: "127.0.46.1", port, localAddress: "127.0.46.2" };
  const client = ttl === undefined ? net.connect(opts) : connectWith(opts, (fd, v6) => setTtlFd(fd, v6, ttl));
  client.on("error", () => {});
  const s = await got;
  client.destroy();
  return s;
}

it("reads the SYN's TTL: the host default, or what the sender set", async () => {
  const hostDefault = Number(readFileSync("/proc/sys/net/ipv4/ip_default_ttl", "utf8"));
  expect(synTtl(await accepted(undefined))).toBe(hostDefault);
  expect(synTtl(await accepted(255))).toBe(255);
  expect(synTtl(await accepted(200))).toBe(200);
});
