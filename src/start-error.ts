/**
 * Why the server could not start, in one line an admin can act on:
 * `hookrelay: <what failed> (<path or port>): <what to do>`. `hookrelay serve` prints it without
 * a stack (the stack goes to the log at debug level) and exits 3.
 */
export class StartError extends Error {
  constructor(what: string, where: string, todo: string, options?: ErrorOptions) {
    super(`${what} (${where}): ${todo}`, options)
    this.name = 'StartError'
  }
}

/** Who this process runs as, for "make it writable by ..." advice. */
export function currentUser(): string {
  const uid = process.getuid?.()
  return uid === undefined ? 'the user hookrelay runs as' : `the user hookrelay runs as (uid ${uid})`
}

/** A listen() failure in plain words, or undefined when it is not one of the usual ones. */
export function listenFailure(err: unknown, host: string, port: number): StartError | undefined {
  const code = (err as NodeJS.ErrnoException).code
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  switch (code) {
    case 'EADDRINUSE':
      return new StartError('the port is in use by another program', where, 'stop that program, or set server.port (or PORT) to a free port', { cause: err })
    case 'EACCES':
      return new StartError(
        'no permission to listen on this port',
        where,
        'ports below 1024 need root: use a port such as 8080 and put Caddy or nginx in front (docs/deploy.md)',
        { cause: err },
      )
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new StartError('this machine has no such address', where, 'set server.host (or HOST) to one of its addresses, 127.0.0.1, or 0.0.0.0 for all', { cause: err })
    default:
      return undefined
  }
}
