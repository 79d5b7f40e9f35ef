/** The intake ceiling: bare Fastify answering 200 after parsing the JSON body. */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.post('/', async (request) => ({ ok: true, fields: Object.keys(request.body as object).length }))
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ port: Number(new URL(address).port) })}\n`)
// Exits normally on SIGINT, so that a profile asked for with --cpu-prof is written (bench:profile).
process.once('SIGINT', () => process.exit(0))
