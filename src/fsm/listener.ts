// The BGP listener: accepts connections only from configured peers, matched by remote address.
// Anyone else is closed before any OPEN is sent, and counted.
import net from "node:net";
import { saveSyn, setMd5Key } from "./sockopt.js";

export interface Acceptor {
  accept(socket: net.Socket): void;
}

/** "::ffff:198.51.100.1" (an IPv4 peer on a dual-stack socket) -> "198.51.100.1". */
export function normaliseAddress(addr: string | undefined): string {
  if (!addr) return "";
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}

export class Listener {
  private readonly server: net.Server;
  /** connections from addresses that are not configured peers */
  rejected = 0;

  constructor(
    private readonly lookup: (remoteAddress: string) => Acceptor | undefined,
    private readonly onReject: (remoteAddress: string) => void = () => {},
  ) {
    this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
  }

  private onConnection(socket: net.Socket): void {
    const remote = normaliseAddress(socket.remoteAddress);
    const peer = this.lookup(remote);
    if (!peer) {
      this.rejected++;
      this.onReject(remote);
      socket.destroy();
      return;
    }
    peer.accept(socket);
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ port, host, exclusive: true }, () => {
        this.server.off("error", reject);
        // RFC 5082: GTSM peers' SYNs are kept, so their TTL can be checked at accept
        saveSyn(this.server);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** RFC 2385: connections from `peer` must be signed with `key` (an empty key removes it). */
  setMd5Key(peer: string, key: string): void {
    setMd5Key(this.server, peer, key);
  }
}
