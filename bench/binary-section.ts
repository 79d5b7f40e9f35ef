/** The markers of bench:binary's section in bench/RESULTS.md, which npm run bench keeps. */
export const SECTION_START = '<!-- bench:binary start -->'
export const SECTION_END = '<!-- bench:binary end -->'
