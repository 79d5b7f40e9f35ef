/** The relay ceiling: Fastify forwarding each request to the target with undici, no journal. */
import Fastify from 'fastify'
import { Agent, request } from 'undici'

const target = process.argv[2]!
const dispatcher = new Agent({ keepAliveTimeout: 60_000 })
const app = Fastify({ logger: false })
app.post('/', async (req) => {
  const res = await request(target, { method: 'POST', body: JSON.stringify(req.body), headers: { 'content-type': 'application/json' }, dispatcher })
  await res.body.text()
  return { ok: res.statusCode === 200 }
})
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ port: Number(new URL(address).port) })}\n`)
// Exits normally on SIGINT, so that a profile asked for with --cpu-prof is written (bench:profile).
process.once('SIGINT', () => process.exit(0))
