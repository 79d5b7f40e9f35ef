/** A config with a problem of each kind, for comparing what a build reports with what the sources report. */
export const BROKEN_CONFIG = `server: { port: "eighty" }
pipelines:
  - id: Bad_ID
    source: { type: webhook }
    actions:
      - { id: a, type: http.request, url: "https://example.com", methd: POST, timeout: 10 sec }
      - { id: b, type: http.requets }
      - { type: json.parse, fields: {} }
`

/** Two of the lines `check` prints for BROKEN_CONFIG saved as broken.yaml. */
export const BROKEN_LINES = [
  "broken.yaml:6:66 pipelines[0].actions[0]: unknown key 'methd'",
  "broken.yaml:8:37 pipelines[0].actions[2].fields: found a map (), expected at least one field (name: path) in pipeline 'Bad_ID'",
]
