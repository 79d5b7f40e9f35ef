/** See search-text.mjs. */
export function searchText(requestJson: string): string
