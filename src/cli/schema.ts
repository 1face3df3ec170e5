/** switchyard schema: print the JSON Schema of routes.yaml (npm run schema writes it to schemas/). */
import { routesJsonSchema } from '../config/routes-json-schema.js'

export async function schema(): Promise<number> {
  process.stdout.write(routesJsonSchema())
  return 0
}
