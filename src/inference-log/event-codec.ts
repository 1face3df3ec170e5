/**
 * How events cross from the request thread to the writer: each event is one string, fields
 * joined by U+0001, ids by U+0002, and a batch of events is one string joined by U+0003.
 * Posting one string costs a copy; posting objects cost a structured clone of every field of
 * every event, on the request thread (bench/results: the clone was most of the log's cost).
 *
 * The separators cannot occur inside a field: the body and answer are JSON text the gateway
 * parsed or wrote (JSON forbids raw control characters, its whitespace is only tab, CR, LF and
 * space), ids are printable ASCII, names are [A-Za-z0-9._-], attributes are JSON.stringify
 * output. Null is written as the empty string; no field is legitimately empty.
 */
import type { InferenceEvent, InferenceRole } from './event.js'
import type { RecordContext } from './record-context.js'

const FIELD = '\u0001'
const ID = '\u0002'
export const EVENT_SEPARATOR = '\u0003'

const text = (v: string | number | null): string => (v === null ? '' : String(v))

/** The event of one version's answer (or failure) to a request, as its line. */
export function encodeEvent(
  ctx: RecordContext, model: string, version: string, role: InferenceRole, latencyMs: number,
  answer: string | null, status: number, errorCode: string | null,
): string {
  return ctx.kind + FIELD + ctx.ids.join(ID) + FIELD + Date.now() + FIELD + text(ctx.callerTs) + FIELD + model + FIELD + version + FIELD +
    text(ctx.route) + FIELD + text(ctx.reason) + FIELD + role + FIELD + text(ctx.stickyHash) + FIELD + text(ctx.revision) + FIELD +
    latencyMs + FIELD + status + FIELD + text(errorCode) + FIELD + text(ctx.attributes) + FIELD + ctx.body + FIELD + text(answer)
}

export function decodeEvent(line: string): InferenceEvent {
  const f = line.split(FIELD)
  const orNull = (i: number): string | null => (f[i] === '' ? null : f[i])
  const number = (i: number): number | null => (f[i] === '' ? null : Number(f[i]))
  return {
    kind: f[0] as InferenceEvent['kind'],
    ids: f[1].split(ID),
    serverTs: Number(f[2]),
    callerTs: number(3),
    model: f[4],
    version: f[5],
    route: orNull(6),
    reason: orNull(7),
    role: f[8] as InferenceRole,
    stickyHash: orNull(9),
    revision: number(10),
    latencyMs: Number(f[11]),
    status: Number(f[12]),
    errorCode: orNull(13),
    attributes: orNull(14),
    body: orNull(15),
    answer: orNull(16),
  }
}
