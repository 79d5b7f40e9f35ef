/** See search-text.mjs. */
export function searchText(requestJson: string, shown?: string | null): string
