/**
 * The error catalogue over gRPC: each catalogue status maps to the gRPC code a client of the
 * protocol branches on (gRPC's own HTTP-to-status table, turned around), the message goes as
 * the status details, and the catalogue's stable code as trailing metadata `x-error-code`.
 */
import { Metadata, status } from '@grpc/grpc-js'
import type { ServiceError } from '@grpc/grpc-js'
import { toErrorResponse } from '../errors.js'

const BY_HTTP_STATUS: ReadonlyMap<number, status> = new Map([
  [400, status.INVALID_ARGUMENT],
  [401, status.UNAUTHENTICATED],
  [403, status.PERMISSION_DENIED],
  [404, status.NOT_FOUND],
  [405, status.UNIMPLEMENTED],
  [409, status.FAILED_PRECONDITION],
  [413, status.RESOURCE_EXHAUSTED],
  [415, status.INVALID_ARGUMENT],
  [422, status.INVALID_ARGUMENT],
  [429, status.RESOURCE_EXHAUSTED],
  [500, status.INTERNAL],
  [502, status.UNAVAILABLE],
  [503, status.UNAVAILABLE],
  [504, status.DEADLINE_EXCEEDED],
])

function grpcStatusOf(httpStatus: number): status {
  return BY_HTTP_STATUS.get(httpStatus) ?? (httpStatus >= 500 ? status.INTERNAL : status.FAILED_PRECONDITION)
}

export interface GrpcFailure {
  readonly error: Partial<ServiceError>
  /** As the HTTP answer would have been: its status and catalogue code (for logs and metrics). */
  readonly status: number
  readonly code: string
}

/** An error as a gRPC status; unknown errors become INTERNAL without their text, as over HTTP. */
export function toGrpcFailure(err: unknown): GrpcFailure {
  const { status: httpStatus, body } = toErrorResponse(err)
  const metadata = new Metadata()
  metadata.set('x-error-code', body.code)
  return { error: { code: grpcStatusOf(httpStatus), details: body.error, metadata }, status: httpStatus, code: body.code }
}
