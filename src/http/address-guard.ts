/**
 * The SSRF rule: a call whose scheme, host or port came from a template may only reach public
 * unicast addresses, never loopback, private, link-local (cloud metadata), CGNAT, unique-local
 * or any other special range. The check runs on the address actually connected to, after DNS
 * (in the connector's lookup), and on IP literals before any connection.
 */
import { lookup as dnsLookup } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'

/** The error a blocked connection fails with; the HTTP core turns it into HR_ADDRESS_BLOCKED. */
export class BlockedAddressError extends Error {
  readonly code = 'HR_ADDRESS_BLOCKED'
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`refused to connect to ${host === address ? address : `${host} (${address})`}, a ${range} address`)
    this.name = 'BlockedAddressError'
  }
}

/** The special range `address` falls in, or undefined for a public unicast address. */
export function blockedRange(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '')
  if (!ipaddr.isValid(bare)) return 'unparsable'
  const range = ipaddr.process(bare).range() // IPv4-mapped IPv6 is read as the IPv4 it carries
  return range === 'unicast' ? undefined : range
}

/** Throws BlockedAddressError when `hostname` is an IP literal in a special range. */
export function checkLiteral(hostname: string): void {
  const bare = hostname.replace(/^\[|\]$/g, '')
  if (isIP(bare) === 0) return
  const range = blockedRange(bare)
  if (range) throw new BlockedAddressError(bare, bare, range)
}

export type { LookupFunction }

/** Wraps a DNS lookup so that a name resolving to any special address fails to connect. */
export function guardedLookup(base: LookupFunction = dnsLookup as unknown as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, options, (err, address, family) => {
      if (err) return callback(err, address, family)
      const all = Array.isArray(address) ? address : [{ address, family: family ?? 4 }]
      for (const a of all) {
        const range = blockedRange(a.address)
        if (range) return callback(new BlockedAddressError(hostname, a.address, range) as unknown as NodeJS.ErrnoException, address, family)
      }
      return callback(null, address, family)
    })
  }
}

/**
 * True when a URL template fixes scheme, host and port in the config: its text up to the end
 * of the authority holds no template syntax. Such a URL is trusted as written.
 */
export function originIsLiteral(urlTemplate: string): boolean {
  const firstTag = urlTemplate.search(/\{\{|\{%/)
  if (firstTag === -1) return true
  return /^https?:\/\/[^/?#{}]+[/?#]/i.test(urlTemplate.slice(0, firstTag))
}
