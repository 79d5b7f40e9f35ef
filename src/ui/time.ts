/** Days in a time zone as instants: the page's date filters are the operator's local days. */

/** The instant a day (YYYY-MM-DD) starts in `timeZone`, in ms; undefined for a day that does not exist. */
export function zonedDayStart(day: string, timeZone: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (!m) return undefined
  const [year, month, date] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (year < 1970 || year > 2999) return undefined // no journal holds a run from outside these
  const utc = Date.UTC(year, month - 1, date)
  const back = new Date(utc)
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== date) return undefined
  // Midnight there is midnight UTC less the zone's offset at that moment (asked twice: the
  // offset at a guess may differ from the one at the answer across a change of offset).
  const first = utc - offset(utc, timeZone)
  return utc - offset(first, timeZone)
}

/** The instant the day after `day` starts in `timeZone` (the end of `day`, excluded). */
export function dayAfter(day: string, timeZone: string): number | undefined {
  if (zonedDayStart(day, timeZone) === undefined) return undefined
  const next = new Date(`${day}T00:00:00Z`)
  next.setUTCDate(next.getUTCDate() + 1)
  return zonedDayStart(next.toISOString().slice(0, 10), timeZone)
}

/** How far `timeZone`'s clocks are ahead of UTC at `at`, in ms. */
function offset(at: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(at)
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<string, number>
  const wall = Date.UTC(parts['year']!, parts['month']! - 1, parts['day']!, parts['hour']!, parts['minute']!, parts['second']!)
  return wall - Math.floor(at / 1000) * 1000
}
