// ROUTE-REFRESH, RFC 2918 §3 with the RFC 7313 §3 subtype:
//   +-----------------+---------------+----------+
//   | AFI (2)         | Subtype (1)   | SAFI (1) |
//   +-----------------+---------------+----------+
//   Subtype: 0 normal request, 1 Beginning of Route Refresh, 2 End of Route Refresh.
import { ErrorCode, RouteRefreshSubcode } from "./constants.js";
import { type BgpError, sessionReset } from "./errors.js";

export interface RouteRefreshMessage {
  type: "ROUTE-REFRESH";
  afi: number;
  safi: number;
  subtype: number;
}

export function decodeRouteRefresh(
  body: Buffer,
  whole: Buffer,
): { message?: RouteRefreshMessage; error?: BgpError } {
  // RFC 7313 §5: a length other than 4 is answered with 7/1 carrying the whole message.
  if (body.length !== 4) {
    return {
      error: sessionReset(
        ErrorCode.ROUTE_REFRESH_MESSAGE,
        RouteRefreshSubcode.INVALID_MESSAGE_LENGTH,
        `ROUTE-REFRESH body of ${body.length} octets`,
        Buffer.from(whole),
      ),
    };
  }
  return { message: { type: "ROUTE-REFRESH", afi: body.readUInt16BE(0), subtype: body[2]!, safi: body[3]! } };
}

export function encodeRouteRefresh(m: RouteRefreshMessage): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(m.afi, 0);
  b[2] = m.subtype;
  b[3] = m.safi;
  return b;
}
