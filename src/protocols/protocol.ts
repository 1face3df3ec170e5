/**
 * How an inference travels on the wire, one protocol a module (native records, the Open
 * Inference Protocol's JSON tensors; binary tensors, TF Serving and gRPC to come): its body
 * decoded into the version's feeds, and the version's outputs encoded into its answer. The
 * request pipeline (pipeline/inference.ts) knows protocols only through this interface.
 */
import type { RecordKind } from '../inference-log/record-context.js'
import type { ServingVersion } from '../runtime/model-pool.js'
import type { Feed, RunOutputs } from '../runtime/tensors.js'

/** A request body as the pipeline holds it: its bytes, and its JSON value parsed on demand. */
export interface RequestBody {
  readonly bytes: Buffer
  /**
   * The bytes after the JSON header when the request uses the binary tensor data extension
   * (Inference-Header-Content-Length); null for a body that is JSON alone.
   */
  readonly binary: Buffer | null
  readonly isParsed: boolean
  /** The parsed JSON; throws the catalogue's BODY_MALFORMED_JSON (or BODY_INVALID) when it is not. */
  value(): unknown
}

export interface DecodeContext {
  /** Most rows one request may hold (--max-request-rows). */
  readonly maxRows: number
  /** The caller's X-Inference-Id, checked; null when none was sent. */
  readonly callerId: string | null
}

/** What a decoder makes of a body: the run's feeds, and what the answer and the record need. */
export interface DecodedRequest {
  readonly feeds: readonly Feed[]
  /** The first dimension every feed shares, or -1 when they do not share one. */
  readonly rows: number
  /** The inference ids: one a row (native), or the request's one (V2). */
  readonly ids: readonly (string | number)[]
  /** Output names the caller asked for, in order; null means all. */
  readonly outputs: readonly string[] | null
  /** Outputs to answer as binary data (V2's binary tensor extension); null when none. */
  readonly binaryOutputs: ReadonlySet<string> | null
  /** The body as the inference log keeps it, when not as sent (native rows sent as arrays are kept as named records). */
  readonly recordedBody?: Buffer
}

/**
 * One way to read a body. A fast decoder returns null for any body it does not take (the next
 * one then tries); the last decoder of a protocol takes every body and throws the catalogue's
 * error for a wrong one. Every decoder of a protocol gives the same result for a body it takes
 * (protocols/decoders.case.test.ts).
 */
export interface RequestDecoder<B = RequestBody> {
  readonly name: string
  decode(body: B, version: ServingVersion, context: DecodeContext): DecodedRequest | null
}

/** `B`: the request as its transport holds it (an HTTP body, a gRPC message); `A`: the answer it writes. */
export interface InferenceProtocol<B = RequestBody, A = string> {
  /** Whether a body may carry binary tensor data after a JSON header (V2 over HTTP). */
  readonly takesBinaryData: boolean
  /** How the inference log reads this request's body and answer back (its store worker decodes them). */
  recordKind(body: B, decoded: DecodedRequest): RecordKind
  /** Tried in order; the last takes every body. */
  readonly decoders: readonly RequestDecoder<B>[]
  /**
   * Throws the body's own error, if it has one, without a version to decode it for: a routing
   * error found before the body was read must not hide a body that can never work.
   */
  checkBody(body: B): void
  /** Timestamp and attributes the body itself may carry (native bodies); null when it carries none. */
  callerFields(body: B): Record<string, unknown> | null
  /** The answer. */
  encodeAnswer(version: ServingVersion, role: string, decoded: DecodedRequest, outputs: RunOutputs): A
  /** The answer as the inference log keeps it, for the store worker to read the outputs from (by recordKind). */
  recordedAnswer(answer: A): string | Buffer
}

/** Decode `body` with the protocol's decoders, the fast ones first. */
export function decodeWith<B>(protocol: InferenceProtocol<B, unknown>, body: B, version: ServingVersion, context: DecodeContext): DecodedRequest {
  const decoders = protocol.decoders
  for (let i = 0; i < decoders.length; i++) {
    const decoded = decoders[i].decode(body, version, context)
    if (decoded !== null) return decoded
  }
  throw new Error(`the last decoder of a protocol (${decoders.at(-1)?.name}) took no body; it must take every one`)
}
