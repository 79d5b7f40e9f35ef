/** Every error hookrelay reports: one table of code, HTTP status and message template. */

interface ErrorDef {
  status: number
  message: string // `%s` placeholders, filled in order by hookrelayError()
}

/**
 * The table. docs/error-codes.md lists every entry (a test checks it).
 * `status` is what a caller gets when the error ends a request; step and config errors
 * carry 500 because they never reach a caller as such.
 */
export const ERRORS = {
  // What a caller of a webhook URL can get.
  HR_NOT_FOUND: { status: 404, message: 'not found' },
  HR_METHOD_NOT_ALLOWED: { status: 405, message: 'method %s is not allowed here (allowed: %s)' },
  HR_BAD_JSON: { status: 400, message: 'request body is not valid JSON: %s' },
  HR_BODY_NOT_OBJECT: { status: 400, message: 'a JSON request body must be an object, got %s' },
  HR_BODY_TOO_DEEP: { status: 400, message: 'request body nests deeper than %s levels' },
  HR_BAD_ENCODING: { status: 400, message: 'request body is not valid UTF-8' },
  HR_BAD_REQUEST: { status: 400, message: 'bad request: %s' },
  HR_BODY_TOO_LARGE: { status: 413, message: 'request body is larger than the limit of %s bytes' },
  HR_REQUEST_TIMEOUT: { status: 408, message: 'the request did not arrive in full within %s' },
  HR_HEADERS_TOO_LARGE: { status: 431, message: 'request headers are larger than %s bytes' },
  HR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: "content type '%s' is not supported (send application/json, application/x-www-form-urlencoded or text/plain)",
  },
  HR_PIPELINE_STOPPED: { status: 503, message: 'pipeline stopped' },
  HR_JOURNAL_UNAVAILABLE: { status: 503, message: 'the journal cannot keep this request right now; retry later' },
  HR_JOURNAL_BUSY: { status: 503, message: 'the journal is behind writing to disk, so this request was not taken; retry in a few seconds' },
  HR_SHUTTING_DOWN: { status: 503, message: 'the server is shutting down; retry later' },
  HR_BAD_SIGNATURE: {
    status: 401,
    message: 'X-Hub-Signature-256 is missing or does not match the body (check app_secret against the app\'s «App secret»)',
  },
  HR_WRONG_SECRET: { status: 403, message: "the request's secret does not match (check secret against the community's Callback API settings)" },
  HR_WRONG_VERIFY_TOKEN: { status: 403, message: 'hub.mode is not subscribe or hub.verify_token does not match (check verify_token)' },
  HR_BAD_CHANGE: { status: 400, message: 'this leadgen change cannot be read: %s' },
  // A failed step's default answer, by whose the fault is: the caller's request, the service a
  // step calls, or the config / hookrelay itself.
  HR_INPUT_REJECTED: { status: 422, message: "action '%s' failed: %s" },
  HR_UPSTREAM_FAILED: { status: 502, message: "action '%s' failed: %s" },
  HR_ACTION_FAILED: { status: 500, message: "action '%s' failed: %s" },
  HR_RESPONSE_FAILED: { status: 500, message: 'the response could not be rendered: %s' },
  HR_INTERNAL: { status: 500, message: 'internal error' },

  // The journal API.
  HR_UNAUTHORIZED: { status: 401, message: 'missing or wrong bearer token' },
  HR_TOO_MANY_ATTEMPTS: { status: 429, message: 'too many failed attempts; retry in %s seconds' },
  HR_JOURNAL_DISABLED: { status: 404, message: 'the journal API is off: set journal.token in the config' },
  HR_BAD_FILTER: { status: 400, message: '%s' },
  HR_RUN_NOT_FOUND: { status: 404, message: "run '%s' not found" },
  HR_UNKNOWN_PIPELINE: { status: 404, message: "no pipeline '%s' in the config or the journal (known: %s)" },

  // What a step of a run can fail with (kept in the journal, never sent as such).
  HR_TEMPLATE_MISSING: { status: 500, message: "missing name '%s' in the template at %s" },
  HR_TEMPLATE_ERROR: { status: 500, message: 'the template at %s failed: %s' },
  HR_JSON_INPUT: { status: 500, message: 'input is not JSON: %s' },
  HR_JSON_PATH_MISSING: { status: 500, message: "field '%s': path %s not found in the input" },
  HR_BAD_URL: { status: 500, message: "URL '%s' is not a valid http(s) URL" },
  HR_BAD_HEADER: { status: 500, message: "header '%s' would contain %s, which an HTTP header cannot carry; %s" },
  HR_UPSTREAM_STATUS: { status: 500, message: 'upstream answered %s, which is not a success (%s)' },
  HR_UPSTREAM_TIMEOUT: { status: 500, message: 'no complete answer within %s' },
  HR_UPSTREAM_NETWORK: { status: 500, message: 'network error: %s' },
  HR_RUN_ABORTED: { status: 500, message: 'the run was stopped: the server is shutting down' },
  HR_ADDRESS_BLOCKED: { status: 500, message: '%s; the URL comes from a template, so only public addresses are allowed (set allow_private_network: true to allow it)' },
  HR_SERVICE_ERROR: { status: 500, message: '%s answered %s: %s' },
  HR_EMAIL_FAILED: { status: 500, message: 'the letter was not sent: %s' },

  // Loading the configuration and the database.
  HR_CONFIG_INVALID: { status: 500, message: '%s' },
  HR_MIGRATION_FAILED: { status: 500, message: 'migration %s failed: %s' },

  // hookrelay replay.
  HR_REPLAY_REFUSED: { status: 500, message: '%s' },
} as const satisfies Record<string, ErrorDef>

export type ErrorCode = keyof typeof ERRORS

/** An error with a stable code from the table and the HTTP status that goes with it. */
export interface HookrelayErrorOptions {
  cause?: unknown
  /**
   * Whose input the step could not use: the caller's request (it lacks a field, or is not JSON; a
   * retry cannot succeed) or a service's answer (a retry later may). Unset: the config's or ours.
   */
  fault?: Fault
}

export type Fault = 'caller' | 'upstream'

export class HookrelayError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly fault: Fault | undefined

  constructor(code: ErrorCode, message: string, options?: HookrelayErrorOptions) {
    super(message, options)
    this.name = 'HookrelayError'
    this.code = code
    this.status = ERRORS[code].status
    this.fault = options?.fault
  }
}

/** Builds the error for `code`, filling the `%s` slots of its message in order. */
export function hookrelayError(code: ErrorCode, args: readonly unknown[] = [], options?: HookrelayErrorOptions): HookrelayError {
  let i = 0
  const message = ERRORS[code].message.replace(/%s/g, () => String(args[i++] ?? ''))
  return new HookrelayError(code, message, options)
}
