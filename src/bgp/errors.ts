// Typed decode errors: every malformed input becomes a BgpError carrying the NOTIFICATION
// code/subcode/data RFC 4271 names for it and the RFC 7606 action the receiver takes.

export type Rfc7606Action = "attribute-discard" | "treat-as-withdraw" | "afi-safi-disable" | "session-reset";

/** RFC 7606 §3(h): when several errors are found, the strongest action wins. */
const STRENGTH: Readonly<Record<Rfc7606Action, number>> = {
  "attribute-discard": 1,
  "treat-as-withdraw": 2,
  "afi-safi-disable": 3,
  "session-reset": 4,
};

export function strongerAction(a: Rfc7606Action, b: Rfc7606Action): Rfc7606Action {
  return STRENGTH[a] >= STRENGTH[b] ? a : b;
}

export interface BgpErrorInit {
  action: Rfc7606Action;
  code: number;
  subcode: number;
  data?: Buffer;
  reason: string;
  /** attribute names dropped by attribute-discard */
  discarded?: string[];
  /** the family to disable, with afi-safi-disable */
  afi?: number;
  safi?: number;
  /** true when the decoder itself failed: a bug, never expected from any input */
  internal?: boolean;
}

export class BgpError extends Error {
  readonly action: Rfc7606Action;
  readonly code: number;
  readonly subcode: number;
  readonly data: Buffer;
  readonly discarded: readonly string[];
  readonly afi: number | undefined;
  readonly safi: number | undefined;
  readonly internal: boolean;

  constructor(init: BgpErrorInit) {
    super(init.reason);
    this.name = "BgpError";
    this.action = init.action;
    this.code = init.code;
    this.subcode = init.subcode;
    this.data = init.data ?? Buffer.alloc(0);
    this.discarded = init.discarded ?? [];
    this.afi = init.afi;
    this.safi = init.safi;
    this.internal = init.internal ?? false;
  }
}

/** Shorthand for the errors that reset the session. */
export function sessionReset(code: number, subcode: number, reason: string, data?: Buffer): BgpError {
  return new BgpError({ action: "session-reset", code, subcode, reason, ...(data ? { data } : {}) });
}

/** Thrown by encoders when asked to encode something that has no valid wire form. */
export class EncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EncodeError";
  }
}

/** Wraps an unexpected exception from a decoder so that no input can crash the process. */
export function internalError(cause: unknown): BgpError {
  const err = new BgpError({
    action: "session-reset",
    code: 3,
    subcode: 0,
    reason: `decoder failure: ${cause instanceof Error ? cause.message : String(cause)}`,
    internal: true,
  });
  err.cause = cause;
  return err;
}
